// "Message us" requests (chats that overflowed to a message step, see
// docs/routing.md): who left a message, where to reach them, and a way to
// give each to an agent (`POST /message-requests/{id}/pick-up {agent_id}`):
// the agent joins the chat if the customer is still there, else follows up.

import { h } from '../shared/dom.js';
import { clockTime, formatDuration, shortId } from './format.js';
import { KeyedRows } from './keyed-rows.js';

export class MessageRequestsView {
  /**
   * @param {import('../shared/api.js').RestClient} api
   * @param {{queue: (id) => string, customer: (id) => string}} names
   * @param {() => {id: string, name: string}[]} agents the directory's agents
   */
  constructor(api, names, agents) {
    this.api = api;
    this.names = names;
    this.agents = agents;
    this.status = document.getElementById('requests-status');
    this.error = document.getElementById('requests-error');
    this.empty = document.getElementById('requests-empty');
    this.rows = new KeyedRows(document.getElementById('requests-body'), (r) => r.conversation_id, (r) => this.#row(r));
    this.loading = null;
    this.list = [];
  }

  /** Draws the last list again (the agents to choose from changed). */
  redraw() {
    this.rows.update(this.list, (row, r) => this.#fill(row, r));
  }

  /** Lists the requests again (one read at a time; a change meanwhile reads once more). */
  refresh() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    this.loading = this.#load().finally(() => {
      this.loading = null;
      if (this.again) {
        this.again = false;
        this.refresh();
      }
    });
    return this.loading;
  }

  async #load() {
    try {
      this.list = await this.api.get('/message-requests');
      this.error.textContent = '';
      this.redraw();
      this.empty.hidden = this.list.length > 0;
    } catch (err) {
      this.error.textContent = `Cannot list the requests: ${err.message}`;
    }
  }

  #row(r) {
    const id = `request-agent-${r.conversation_id}`;
    const who = h('span', {});
    const select = h('select', { id, 'data-testid': 'request-agent' });
    const label = h('label', { for: id, class: 'visually-hidden' });
    const cells = {
      who: h('th', { scope: 'row' }, who),
      contact: h('td', { 'data-testid': 'request-contact' }),
      queue: h('td', {}),
      since: h('td', {}),
      open: h('td', {}),
      give: h('td', {}, h('div', { class: 'row-actions' }, label, select,
        h('button', { type: 'button', class: 'small', 'data-testid': 'request-assign', on: { click: () => this.#assign(r.conversation_id, select) } },
          'Give', h('span', { class: 'visually-hidden', 'data-whose': '' })))),
    };
    return { tr: h('tr', { 'data-testid': 'request-row', 'data-conversation-id': r.conversation_id }, ...Object.values(cells)), cells, who, select, label };
  }

  #fill(row, r) {
    const contact = r.contact || {};
    const name = contact.name || this.names.customer(r.conversation_id) || shortId(r.conversation_id);
    row.who.textContent = name;
    row.cells.contact.textContent = [contact.email, contact.phone].filter(Boolean).join(' · ') || 'No contact details yet';
    row.cells.queue.textContent = r.queue_id ? this.names.queue(r.queue_id) || shortId(r.queue_id) : '—';
    const since = Date.parse(r.since);
    row.cells.since.textContent = `${clockTime(since)} (${formatDuration((Date.now() - since) / 1000)} ago)`;
    row.cells.open.textContent = r.open ? 'Still in the chat' : 'Has left';
    row.label.textContent = `Agent for the request from ${name}`;
    row.tr.querySelector('[data-whose]').textContent = ` the request from ${name}`;
    const chosen = row.select.value;
    row.select.replaceChildren(...this.agents().map((a) => h('option', { value: a.id }, a.name)));
    if (chosen) row.select.value = chosen;
  }

  async #assign(conversationId, select) {
    const agent = this.agents().find((a) => a.id === select.value);
    if (!agent) return;
    this.status.textContent = '';
    this.error.textContent = '';
    try {
      const { joined } = await this.api.post(`/message-requests/${conversationId}/pick-up`, { agent_id: agent.id });
      this.status.textContent = joined
        ? `Given to ${agent.name}, who joined the chat.`
        : `Given to ${agent.name}; the customer had left, so ${agent.name} follows up by the contact details.`;
    } catch (err) {
      this.error.textContent = `Could not give it to ${agent.name}: ${err.message}`;
    }
    await this.refresh();
  }
}
