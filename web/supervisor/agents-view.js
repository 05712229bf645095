// The agents table, from GET /api/v1/directory: presence and load/capacity.

import { h } from '../shared/dom.js';
import { KeyedRows } from './keyed-rows.js';

export class AgentsView {
  constructor(tbody, empty) {
    this.empty = empty;
    this.rows = new KeyedRows(tbody, (a) => a.id, (a) => this.#row(a));
  }

  show(agents) {
    const sorted = [...agents].sort((a, b) => Number(b.available) - Number(a.available) || a.name.localeCompare(b.name));
    this.rows.update(sorted, (row, a) => this.#fill(row, a));
    this.empty.hidden = agents.length > 0;
  }

  #row(a) {
    const dot = h('span', { class: 'presence-dot', 'aria-hidden': 'true' });
    const activity = h('span', { 'data-testid': 'agent-activity' });
    const cells = {
      name: h('th', { scope: 'row' }),
      presence: h('td', {}, dot, activity),
      load: h('td', { class: 'num', 'data-testid': 'agent-load' }),
    };
    return { tr: h('tr', { 'data-testid': 'agent-row', 'data-agent-id': a.id }, ...Object.values(cells)), cells, dot, activity };
  }

  #fill(row, a) {
    row.cells.name.textContent = a.name;
    row.dot.dataset.available = String(a.available);
    row.dot.dataset.activity = a.activity;
    row.activity.textContent = a.available ? `${a.activity} (receives chats)` : a.activity;
    row.cells.load.textContent = `${a.load} / ${a.capacity}`;
  }
}
