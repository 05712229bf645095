// API access keys (signed server-to-server requests; docs/access-keys.md):
// list, create (the secret is shown once), revoke.

import { h, clear } from '../shared/dom.js';
import {
  field, clearErrors, showError, confirmAction, showSecret, dataTable, fillRows, rowButton, sectionLines, formErrorLine, loadList,
} from './form-kit.js';

export class KeysSection {
  constructor(root, api) {
    this.api = api;
    ({ status: this.status, listError: this.listError } = sectionLines('keys-status'));
    const table = dataTable({ testid: 'keys-table', label: 'API keys', heads: ['Key id', 'For', 'Created', 'Status'] });
    this.tbody = table.tbody;
    this.secretBox = h('div', { class: 'secret', hidden: true, 'data-testid': 'key-secret', tabindex: '-1' });
    const name = field({ label: 'What the key is for', field: 'name', hint: 'e.g. "shop back end".' });
    this.nameInput = name.input;
    const form = h('form', { class: 'card', novalidate: true, 'data-testid': 'key-form' },
      h('p', { class: 'muted small' }, 'An access key (an id and a secret) signs server-to-server requests, like the Amazon Connect dialect\u2019s StartChatContact.'),
      name.wrap,
      formErrorLine(),
      h('div', { class: 'form-buttons' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'key-create' }, 'Create a key')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      try {
        const key = await this.api.post('/access-keys', { name: name.input.value.trim() });
        form.reset();
        this.#showSecret(key);
        await this.show({ keepSecret: true });
      } catch (err) {
        showError(form, err);
      }
    });
    root.append(form, this.secretBox, this.status, this.listError, table.wrap);
  }

  async show({ keepSecret = false } = {}) {
    if (!keepSecret) {
      this.secretBox.hidden = true;
      clear(this.secretBox);
    }
    const keys = await loadList(this.listError, 'keys', () => this.api.get('/access-keys'));
    if (keys) fillRows(this.tbody, keys.map((k) => this.#row(k)), 5, 'No access keys yet.');
  }

  #row(k) {
    return h('tr', { 'data-testid': 'key-row', 'data-key-id': k.id, class: k.revoked_at ? 'disabled' : '' },
      h('th', { scope: 'row' }, h('code', {}, k.id)),
      h('td', {}, k.name),
      h('td', {}, new Date(k.created_at).toLocaleString()),
      h('td', { 'data-testid': 'key-state' }, k.revoked_at
        ? h('span', { class: 'badge danger' }, `Revoked ${new Date(k.revoked_at).toLocaleString()}`)
        : h('span', { class: 'badge ok' }, 'Active')),
      h('td', {}, k.revoked_at ? '' : rowButton('Revoke', k.name, { testid: 'key-revoke', danger: true, onClick: () => this.#revoke(k) })));
  }

  #showSecret(key) {
    showSecret(this.secretBox, {
      heading: `Key “${key.name}” created. Copy the secret now: it is not shown again.`,
      lines: [['Key id', key.id, 'key-new-id'], ['Secret', key.secret, 'key-new-secret']],
      copy: key.secret,
      copyLabel: 'Copy the secret',
      after: this.nameInput,
    });
  }

  async #revoke(k) {
    if (!await confirmAction(`Revoke the key ${k.id} (${k.name})? Requests signed with it are refused from now on. This cannot be undone.`, 'Revoke')) return;
    try {
      await this.api.delete(`/access-keys/${encodeURIComponent(k.id)}`);
      this.status.textContent = `Key ${k.id} revoked.`;
      await this.show();
    } catch (err) {
      this.listError.textContent = `Could not revoke ${k.id}: ${err.message}`;
    }
  }
}
