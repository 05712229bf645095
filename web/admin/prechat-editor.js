// The widget's pre-chat form: a list of fields to add, remove and reorder,
// each with a name, a label, a kind, whether it is required, and the options
// of a select. The API names errors `widget.prechat[i].name` and so on.

import { h } from '../shared/dom.js';
import { field } from './form-kit.js';

const KINDS = [['text', 'Text'], ['email', 'Email'], ['tel', 'Phone'], ['textarea', 'Long text'], ['select', 'Choice (select)']];

export class PrechatEditor {
  constructor(fields = []) {
    this.list = h('ol', { class: 'prechat-list', 'data-testid': 'prechat-list' });
    this.addButton = h('button', { type: 'button', 'data-testid': 'prechat-add', on: { click: () => this.add({}, true) } }, 'Add a field');
    this.element = h('fieldset', {},
      h('legend', {}, 'Pre-chat form'),
      h('p', { class: 'muted small' }, 'Asked before the chat starts; the answers become chat attributes. A field named display_name becomes the customer\u2019s name.'),
      this.list, this.addButton);
    for (const f of fields) this.add(f, false);
  }

  /** The fields as the API takes them. */
  value() {
    return [...this.list.children].map((li) => {
      const get = (k) => li.querySelector(`[data-key="${k}"]`);
      const kind = get('kind').value;
      const out = { name: get('name').value.trim(), label: get('label').value.trim(), kind, required: get('required').checked };
      if (kind === 'select') out.options = get('options').value.split('\n').map((s) => s.trim()).filter(Boolean);
      return out;
    });
  }

  add(f, focus) {
    const i = this.list.children.length;
    const p = `widget.prechat[${i}]`;
    const name = field({ label: 'Name', field: `${p}.name`, value: f.name, hint: 'Letters, digits and _.', attrs: { 'data-key': 'name', spellcheck: 'false' } });
    const label = field({ label: 'Label', field: `${p}.label`, value: f.label, attrs: { 'data-key': 'label' } });
    const kind = field({ label: 'Kind', field: `${p}.kind`, type: 'select', options: KINDS, value: f.kind || 'text', attrs: { 'data-key': 'kind' } });
    const required = field({ label: 'Required', field: `${p}.required`, type: 'checkbox', value: f.required, attrs: { 'data-key': 'required' } });
    const options = field({ label: 'Options (one per line)', field: `${p}.options`, type: 'textarea', rows: 3, value: (f.options || []).join('\n'), attrs: { 'data-key': 'options' } });
    const syncOptions = () => { options.wrap.hidden = kind.input.value !== 'select'; };
    kind.input.addEventListener('change', syncOptions);
    syncOptions();
    const legend = h('legend', {});
    const item = h('li', { class: 'prechat-item', 'data-testid': 'prechat-item' },
      h('fieldset', {}, legend,
        h('div', { class: 'two-cols' }, name.wrap, label.wrap, kind.wrap, required.wrap),
        options.wrap,
        h('div', { class: 'row-actions' },
          h('button', { type: 'button', class: 'small', 'data-move': 'up', on: { click: () => this.#move(item, -1) } }, 'Move up', h('span', { class: 'visually-hidden', 'data-which': '' })),
          h('button', { type: 'button', class: 'small', 'data-move': 'down', on: { click: () => this.#move(item, 1) } }, 'Move down', h('span', { class: 'visually-hidden', 'data-which': '' })),
          h('button', { type: 'button', class: 'small danger', 'data-testid': 'prechat-remove', on: { click: () => this.#remove(item) } }, 'Remove', h('span', { class: 'visually-hidden', 'data-which': '' })))));
    this.list.append(item);
    this.#renumber();
    if (focus) name.input.focus();
  }

  #move(item, by) {
    const target = by < 0 ? item.previousElementSibling : item.nextElementSibling?.nextElementSibling ?? null;
    if (by < 0 && !target) return;
    if (by > 0 && !item.nextElementSibling) return;
    const button = item.querySelector(`[data-move="${by < 0 ? 'up' : 'down'}"]`);
    this.list.insertBefore(item, target);
    this.#renumber();
    (button.disabled ? item.querySelector('[data-move]:not(:disabled)') : button).focus();
  }

  #remove(item) {
    const next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    this.#renumber();
    (next?.querySelector('input') || this.addButton).focus();
  }

  /** Numbers the items again: legends, button names and API field names. */
  #renumber() {
    const items = [...this.list.children];
    items.forEach((li, i) => {
      li.querySelector('legend').textContent = `Field ${i + 1}`;
      for (const span of li.querySelectorAll('[data-which]')) span.textContent = ` field ${i + 1}`;
      li.querySelector('[data-move="up"]').disabled = i === 0;
      li.querySelector('[data-move="down"]').disabled = i === items.length - 1;
      for (const el of li.querySelectorAll('[data-field]')) {
        el.dataset.field = el.dataset.field.replace(/^widget\.prechat\[\d+\]/, `widget.prechat[${i}]`);
      }
    });
  }
}
