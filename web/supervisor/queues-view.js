// The queues table: waiting, offered and assigned chats, longest and average
// wait (counting on between frames), and the eligible agents' availability.

import { h } from '../shared/dom.js';
import { formatDuration } from './format.js';
import { KeyedRows } from './keyed-rows.js';

const LONG_WAIT_SECS = 120;

export class QueuesView {
  constructor(tbody, empty) {
    this.empty = empty;
    this.rows = new KeyedRows(tbody, (q) => q.queue_id, (q) => this.#row(q));
    this.queues = [];
    this.receivedAt = Date.now();
  }

  show(queues) {
    this.queues = queues;
    this.receivedAt = Date.now();
    this.rows.update(queues, (row, q) => this.#fill(row, q));
    this.empty.hidden = queues.length > 0;
  }

  /** Moves the waits on by the time since the frame (a chat still waiting waits longer). */
  tick() {
    for (const q of this.queues) {
      const row = this.rows.get(q.queue_id);
      if (row) this.#fillWaits(row, q);
    }
  }

  #row(q) {
    const cells = {
      name: h('th', { scope: 'row' }),
      waiting: h('td', { class: 'num', 'data-testid': 'queue-waiting' }),
      offered: h('td', { class: 'num' }),
      assigned: h('td', { class: 'num', 'data-testid': 'queue-assigned' }),
      longest: h('td', { class: 'num', 'data-testid': 'queue-longest' }),
      average: h('td', { class: 'num' }),
      agents: h('td', { class: 'num' }),
      messages: h('td', { class: 'num' }),
    };
    const tr = h('tr', { 'data-testid': 'queue-row', 'data-queue-id': q.queue_id }, ...Object.values(cells));
    return { tr, cells };
  }

  #fill(row, q) {
    const { cells } = row;
    cells.name.textContent = q.name;
    cells.waiting.textContent = String(q.waiting);
    cells.offered.textContent = String(q.offered);
    cells.assigned.textContent = String(q.assigned);
    cells.agents.textContent = `${q.agents_available} / ${q.agents_busy} / ${q.agents_away}`;
    cells.messages.textContent = String(q.messages);
    this.#fillWaits(row, q);
  }

  #fillWaits({ cells }, q) {
    const inLine = q.waiting + q.offered > 0;
    const extra = inLine ? (Date.now() - this.receivedAt) / 1000 : 0;
    const longest = inLine ? q.longest_wait_secs + extra : 0;
    cells.longest.textContent = inLine ? formatDuration(longest) : '—';
    cells.longest.classList.toggle('long-wait', longest >= LONG_WAIT_SECS);
    cells.average.textContent = inLine ? formatDuration(q.average_wait_secs + extra) : '—';
  }
}
