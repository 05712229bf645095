// Canned responses: the list agents pick from with "/" in the console. The
// settings are replaced whole, so the page reads them, changes only
// `canned_responses`, and writes them back.

import { h, clear } from '../shared/dom.js';
import { field, clearErrors, showError } from './form-kit.js';

export class CannedSection {
  constructor(root, api) {
    this.api = api;
    this.list = h('ol', { class: 'canned-list', 'data-testid': 'canned-list' });
    this.status = h('p', { class: 'notice', role: 'status', 'data-testid': 'canned-status' });
    this.formError = h('p', { class: 'error', role: 'alert', 'data-form-error': '', tabindex: '-1', 'data-testid': 'canned-error' });
    this.form = h('form', { class: 'card', novalidate: true, 'data-testid': 'canned-form' },
      h('p', { class: 'muted small' }, 'An agent types / and the short name to insert the text.'),
      this.list,
      h('div', { class: 'form-buttons' },
        h('button', { type: 'button', 'data-testid': 'canned-add', on: { click: () => this.#add({ id: '', title: '', text: '' }, true) } }, 'Add a response')),
      this.formError, this.status,
      h('div', { class: 'form-buttons' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'canned-save' }, 'Save the responses')));
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#save();
    });
    root.append(this.form);
  }

  async show() {
    this.status.textContent = '';
    clearErrors(this.form);
    try {
      const settings = await this.api.get('/settings');
      clear(this.list);
      for (const c of settings.canned_responses || []) this.#add(c, false);
    } catch (err) {
      this.formError.textContent = `Cannot read the settings: ${err.message}`;
    }
  }

  #renumber() {
    [...this.list.children].forEach((li, i) => {
      for (const el of li.querySelectorAll('[data-field]')) {
        el.dataset.field = el.dataset.field.replace(/^canned_responses\[\d+\]/, `canned_responses[${i}]`);
      }
      li.querySelector('legend').textContent = `Response ${i + 1}`;
    });
  }

  #add(c, focus) {
    const i = this.list.children.length;
    const id = field({ label: 'Short name', field: `canned_responses[${i}].id`, value: c.id, hint: 'Letters, digits, - and _.' });
    const title = field({ label: 'Title', field: `canned_responses[${i}].title`, value: c.title });
    const text = field({ label: 'Text', field: `canned_responses[${i}].text`, type: 'textarea', rows: 3, value: c.text });
    const item = h('li', { class: 'canned-item', 'data-testid': 'canned-item' },
      h('fieldset', {}, h('legend', {}, `Response ${i + 1}`),
        h('div', { class: 'two-cols' }, id.wrap, title.wrap), text.wrap,
        h('button', { type: 'button', class: 'small danger', on: { click: () => {
          const next = item.nextElementSibling || item.previousElementSibling;
          item.remove();
          this.#renumber();
          (next?.querySelector('input') || this.form.querySelector('[data-testid="canned-add"]')).focus();
        } } }, 'Remove', h('span', { class: 'visually-hidden' }, ' this response'))));
    this.list.append(item);
    if (focus) id.input.focus();
  }

  async #save() {
    clearErrors(this.form);
    this.status.textContent = '';
    const canned = [...this.list.children].map((li) => {
      const [id, title, text] = li.querySelectorAll('[data-field]');
      return { id: id.value.trim(), title: title.value.trim(), text: text.value };
    });
    try {
      const settings = await this.api.get('/settings');
      await this.api.put('/settings', { ...settings, canned_responses: canned });
      this.status.textContent = `Saved ${canned.length} canned response${canned.length === 1 ? '' : 's'}.`;
    } catch (err) {
      showError(this.form, err);
    }
  }
}
