// Agents: the list with presence and load, a form to create or edit one
// (attributes as JSON, checked before sending), disable and enable.

import { h } from '../shared/dom.js';
import {
  field, clearErrors, showError, confirmAction, fillRows, rowButton, formErrorLine, showSecret,
} from './form-kit.js';
import { ListSection } from './list-section.js';

export class AgentsSection extends ListSection {
  constructor(root, api) {
    super(root, api, {
      item: 'agent', items: 'agents', label: 'Agents', newLabel: 'New agent',
      heads: ['Name', 'Login', 'Presence', 'Chats / capacity', 'Attributes', 'Status'],
    });
    this.secretBox = h('div', { class: 'secret', hidden: true, tabindex: '-1', 'data-testid': 'agent-token' });
    this.status.after(this.secretBox);
  }

  async show() {
    this.agents = await this.load('agents', () => this.api.get('/agents'));
    if (!this.agents) return;
    fillRows(this.tbody, this.agents.map((a) => this.#row(a)), 7, 'No agents yet.');
  }

  #row(a) {
    return h('tr', { 'data-testid': 'agent-row', 'data-agent-id': a.id, class: a.enabled ? '' : 'disabled' },
      h('th', { scope: 'row' }, a.name),
      h('td', {}, a.login || '—'),
      h('td', {}, a.enabled ? `${a.activity}${a.available ? ' (receives chats)' : ''}` : '—'),
      h('td', { class: 'num' }, `${a.load} / ${a.capacity}`),
      h('td', {}, h('code', {}, JSON.stringify(a.attributes || {}))),
      h('td', { 'data-testid': 'agent-enabled' }, h('span', { class: `badge ${a.enabled ? 'ok' : 'danger'}` }, a.enabled ? 'Enabled' : 'Disabled')),
      h('td', {}, h('div', { class: 'row-actions' },
        rowButton('Edit', a.name, { testid: 'agent-edit', onClick: () => this.edit(a) }),
        rowButton(a.enabled ? 'Disable' : 'Enable', a.name, { testid: 'agent-toggle', danger: a.enabled, onClick: () => this.#toggle(a) }),
        a.enabled ? rowButton('Issue a token', `for ${a.name}`, { testid: 'agent-token-issue', onClick: () => this.#issueToken(a) }) : null,
        a.enabled ? rowButton('Revoke tokens', `of ${a.name}`, { testid: 'agent-token-revoke', danger: true, onClick: () => this.#revokeTokens(a) }) : null)));
  }

  edit(agent) {
    const creating = !agent;
    const name = field({ label: 'Name', field: 'name', value: agent?.name, required: true });
    const login = field({ label: 'Console login', field: 'login', value: agent?.login, hint: creating ? 'Unique; it cannot be changed later.' : 'Cannot be changed.', attrs: { autocomplete: 'off', ...(creating ? {} : { readonly: true }) } });
    const password = field({ label: creating ? 'Password' : 'New password', field: 'password', type: 'password', hint: creating ? '8 characters or more.' : 'Leave empty to keep the current one.', attrs: { autocomplete: 'new-password' } });
    const capacity = field({ label: 'Capacity (chats at once)', field: 'capacity', type: 'number', value: agent?.capacity ?? 3, attrs: { min: 1, max: 1000 } });
    const attributes = field({ label: 'Attributes (JSON)', field: 'attributes', type: 'textarea', rows: 4, value: JSON.stringify(agent?.attributes || {}, null, 2), hint: 'What queue expressions see as agent, e.g. {"skills": ["billing"], "level": 2}.', attrs: { class: 'code', spellcheck: 'false' } });
    const formError = formErrorLine();
    const form = h('form', { novalidate: true, 'data-testid': 'agent-form' },
      h('h3', {}, creating ? 'New agent' : `Edit ${agent.name}`),
      h('div', { class: 'two-cols' }, name.wrap, login.wrap, password.wrap, capacity.wrap),
      attributes.wrap, formError,
      h('div', { class: 'form-buttons' },
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'agent-save' }, creating ? 'Create agent' : 'Save'),
        h('button', { type: 'button', on: { click: () => this.closeEditor() } }, 'Cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      let attrs;
      try {
        attrs = JSON.parse(attributes.input.value.trim() || '{}');
        if (!attrs || typeof attrs !== 'object' || Array.isArray(attrs)) throw new Error('Attributes must be a JSON object, like {"skills": ["billing"]}.');
      } catch (err) {
        showError(form, { field: 'attributes', message: err instanceof SyntaxError ? `Not valid JSON: ${err.message}` : err.message });
        return;
      }
      const body = { name: name.input.value.trim(), capacity: Number(capacity.input.value), attributes: attrs };
      if (creating && login.input.value.trim()) body.login = login.input.value.trim();
      if (password.input.value) body.password = password.input.value;
      await this.save(form, { path: '/agents', id: agent?.id, body, noun: 'Agent' });
    });
    this.openEditor(name.input, form);
  }

  /** An API token for the agent (for an integration acting as it), shown once. */
  async #issueToken(a) {
    try {
      const { token } = await this.api.post(`/agents/${a.id}/tokens`, { name: 'admin page' });
      showSecret(this.secretBox, {
        heading: `A token for ${a.name}. Copy it now: it is not shown again.`,
        lines: [['Token', token, 'agent-token-value']],
        copy: token,
        copyLabel: 'Copy the token',
        after: this.tbody.querySelector(`[data-agent-id="${a.id}"] [data-testid="agent-token-issue"]`),
      });
    } catch (err) {
      this.listError.textContent = `Could not issue a token for ${a.name}: ${err.message}`;
    }
  }

  async #revokeTokens(a) {
    if (!await confirmAction(`Revoke every token of ${a.name}? Their consoles and integrations are signed out.`, 'Revoke')) return;
    try {
      const { revoked } = await this.api.delete(`/agents/${a.id}/tokens`);
      this.status.textContent = `${revoked} token${revoked === 1 ? '' : 's'} of ${a.name} revoked.`;
    } catch (err) {
      this.listError.textContent = `Could not revoke the tokens of ${a.name}: ${err.message}`;
    }
  }

  async #toggle(a) {
    if (a.enabled && !await confirmAction(`Disable ${a.name}? Their tokens are revoked and their pending offers withdrawn; they cannot sign in until enabled again.`, 'Disable')) return;
    try {
      await this.api.patch(`/agents/${a.id}`, { enabled: !a.enabled });
      this.status.textContent = `${a.name} ${a.enabled ? 'disabled' : 'enabled'}.`;
      await this.show();
    } catch (err) {
      this.listError.textContent = `Could not change ${a.name}: ${err.message}`;
    }
  }
}
