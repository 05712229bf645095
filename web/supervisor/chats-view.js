// Live conversations: every chat waiting for or with an agent, with buttons to
// monitor it, barge in, and (while it waits) ask why.

import { h } from '../shared/dom.js';
import { formatDuration, shortId, stateLabel } from './format.js';
import { KeyedRows } from './keyed-rows.js';

export class ChatsView {
  /**
   * @param {HTMLElement} tbody
   * @param {HTMLElement} empty
   * @param {{ monitor: (id: string) => void, barge: (id: string) => void, explain: (id: string) => void }} actions
   */
  constructor(tbody, empty, actions) {
    this.empty = empty;
    this.actions = actions;
    this.rows = new KeyedRows(tbody, (c) => c.conversation_id, (c) => this.#row(c));
    this.chats = [];
    this.receivedAt = Date.now();
    this.names = { queue: () => '', customer: () => '' };
    this.watched = null;
  }

  /** @param {{queue: (id: string) => string, customer: (id: string) => string}} names */
  setNames(names) { this.names = names; }

  show(chats) {
    this.chats = chats;
    this.receivedAt = Date.now();
    this.rows.update(chats, (row, c) => this.#fill(row, c));
    this.empty.hidden = chats.length > 0;
  }

  /** Redraws names (a customer's name arrived) without new data. */
  refresh() { this.show(this.chats); }

  tick() {
    for (const c of this.chats) {
      const row = this.rows.get(c.conversation_id);
      if (row) this.#fillWait(row, c);
    }
  }

  /** Marks the chat open in the monitor panel. */
  setWatched(id) {
    this.watched = id;
    for (const c of this.chats) this.rows.get(c.conversation_id)?.tr.classList.toggle('watched', c.conversation_id === id);
  }

  #row(c) {
    const id = c.conversation_id;
    const who = h('span', { class: 'chat-customer', 'data-testid': 'chat-customer' });
    const idText = h('span', { class: 'muted small', title: id });
    const badge = h('span', { class: 'badge state-badge', 'data-testid': 'chat-state' });
    // Each button's name ends with whose chat it is (hidden text), for screen
    // readers moving from control to control.
    const whose = () => h('span', { class: 'visually-hidden', 'data-whose': '' });
    const explain = h('button', { type: 'button', class: 'small', 'data-testid': 'chat-explain', on: { click: () => this.actions.explain(id) } }, 'Why waiting?', whose());
    const cells = {
      chat: h('th', { scope: 'row' }, who, ' ', idText),
      state: h('td', {}, badge),
      queue: h('td', { 'data-testid': 'chat-queue' }),
      agent: h('td', { 'data-testid': 'chat-agent' }),
      wait: h('td', { class: 'num', 'data-testid': 'chat-wait' }),
      actions: h('td', {}, h('div', { class: 'row-actions' },
        h('button', { type: 'button', class: 'small', 'data-testid': 'chat-monitor', on: { click: () => this.actions.monitor(id) } }, 'Monitor', whose()),
        h('button', { type: 'button', class: 'small', 'data-testid': 'chat-barge', on: { click: () => this.actions.barge(id) } }, 'Barge in', whose()),
        explain)),
    };
    const tr = h('tr', { 'data-testid': 'chat-row', 'data-conversation-id': id }, ...Object.values(cells));
    return { tr, cells, who, idText, badge, explain };
  }

  #fill(row, c) {
    const name = this.names.customer(c.conversation_id);
    row.who.textContent = name || 'Customer';
    row.idText.textContent = shortId(c.conversation_id);
    row.badge.textContent = stateLabel(c.state);
    row.badge.dataset.state = c.state;
    row.cells.queue.textContent = c.queue_id ? this.names.queue(c.queue_id) || shortId(c.queue_id) : '—';
    row.cells.agent.textContent = c.agent_name || (c.agent_id ? shortId(c.agent_id) : '—');
    row.explain.hidden = c.state !== 'waiting' && c.state !== 'offered';
    const whose = ` (chat with ${name || shortId(c.conversation_id)})`;
    for (const span of row.tr.querySelectorAll('[data-whose]')) span.textContent = whose;
    row.tr.classList.toggle('watched', c.conversation_id === this.watched);
    this.#fillWait(row, c);
  }

  #fillWait(row, c) {
    const extra = (Date.now() - this.receivedAt) / 1000;
    row.cells.wait.textContent = formatDuration(c.waiting_secs + extra);
  }
}
