// Missed-reply alerts (`sla_breached` on the supervisor socket), newest first,
// each with a button to open the chat and one to dismiss it.

import { h } from '../shared/dom.js';
import { clockTimeSeconds, formatDuration, shortId } from './format.js';

const KEEP = 20;
const ACTIONS = {
  next_agent: 'the chat went back in line for another agent',
  queue: 'the chat moved to another queue',
  alert: 'the agent keeps the chat',
};

export class SlaAlerts {
  /** @param {{ monitor: (id: string) => void }} actions */
  constructor(actions) {
    this.card = document.getElementById('alerts-card');
    this.list = document.getElementById('alerts-list');
    this.actions = actions;
  }

  /** @param {object} frame @param {{agent: (id) => string, queue: (id) => string, customer: (id) => string}} names */
  add(frame, names) {
    const who = names.agent(frame.agent_id) || shortId(frame.agent_id);
    const customer = names.customer(frame.conversation_id) || shortId(frame.conversation_id);
    const timer = frame.timer === 'first_reply' ? 'first reply' : 'reply';
    const text = `${clockTimeSeconds(Date.now())} — ${who} missed the ${timer} to ${customer}`
      + ` (${names.queue(frame.queue_id) || 'queue'}, after ${formatDuration(frame.after_secs)}): ${ACTIONS[frame.action] || frame.action}.`;
    const item = h('li', { class: 'alert-item', 'data-testid': 'alert', 'data-conversation-id': frame.conversation_id },
      h('span', {}, text),
      h('span', { class: 'row-actions' },
        h('button', { type: 'button', class: 'small', on: { click: () => this.actions.monitor(frame.conversation_id) } }, 'Monitor',
          h('span', { class: 'visually-hidden' }, ` (chat with ${customer})`)),
        h('button', { type: 'button', class: 'small ghost', on: { click: () => this.#dismiss(item) } }, 'Dismiss',
          h('span', { class: 'visually-hidden' }, ` the alert about ${customer}`))));
    this.list.prepend(item);
    while (this.list.children.length > KEEP) this.list.lastElementChild.remove();
    this.card.hidden = false;
  }

  clear() {
    this.list.replaceChildren();
    this.card.hidden = true;
  }

  #dismiss(item) {
    const next = item.nextElementSibling || item.previousElementSibling;
    item.remove();
    if (!this.list.children.length) this.card.hidden = true;
    else next?.querySelector('button')?.focus();
  }
}
