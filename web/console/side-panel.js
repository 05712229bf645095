// The side panel: who the customer is (name, record id, attributes), the flows
// the agent launched in this chat and how they went, and the earlier
// conversations a continued chat carries (persistent chat segments).

import { el, formatTime } from '../shared/message-body.js';
import { ChatState } from './chat-state.js';
import { renderEvent } from './event-view.js';

export class SidePanel {
  /** @param {{ history: (chat) => Promise<object[]>, attachment: (cid, id) => Promise<object> }} io */
  constructor(io) {
    this.io = io;
    this.chat = null;
    this.root = document.getElementById('side-panel');
    this.facts = document.getElementById('side-facts');
    this.attributes = document.getElementById('side-attributes');
    this.noAttributes = document.getElementById('side-attributes-empty');
    this.flows = document.getElementById('side-flows');
    this.history = document.getElementById('side-history');
    this.histories = new Map(); // conversation id → promise of its earlier segments' events
  }

  show(chat) {
    this.chat = chat;
    this.root.hidden = !chat;
    if (!chat) return;
    this.render();
    this.#loadHistory(chat);
  }

  render() {
    const chat = this.chat;
    if (!chat) return;
    const c = chat.conversation || {};
    this.facts.replaceChildren(...pairs([
      ['Name', chat.title()],
      ['Record id', c.record_id || '—'],
      ['Conversation', chat.id],
      ['Started', c.created_at ? new Date(c.created_at).toLocaleString() : '—'],
    ]));
    const attrs = Object.entries(c.attributes || {});
    this.attributes.replaceChildren(...pairs(attrs.map(([k, v]) => [k, typeof v === 'string' ? v : JSON.stringify(v)])));
    this.attributes.hidden = !attrs.length;
    this.noAttributes.hidden = attrs.length > 0;
    this.renderFlows();
  }

  renderFlows() {
    const runs = [...(this.chat?.flowRuns.values() || [])];
    if (!runs.length) {
      this.flows.replaceChildren(el('li', 'muted small', 'None launched.'));
      return;
    }
    this.flows.replaceChildren(...runs.map((run) => {
      const item = el('li', 'flow-run');
      item.setAttribute('data-testid', 'flow-run');
      item.dataset.state = run.state;
      item.append(el('strong', null, run.flow), ' ', el('span', `badge flow-${run.state}`, run.state));
      if (run.step) item.append(el('span', 'muted small', ` at ${run.step}`));
      const vars = Object.entries(run.vars || {});
      if (vars.length) {
        const dl = el('dl', 'facts flow-vars');
        dl.setAttribute('data-testid', 'flow-vars');
        dl.append(...pairs(vars.map(([k, v]) => [k, describe(v)])));
        item.append(dl);
      }
      return item;
    }));
  }

  async #loadHistory(chat) {
    if (!chat.conversation?.previous_conversation_id) {
      this.history.replaceChildren(el('p', 'muted small', chat.conversation ? 'None.' : 'Loading…'));
      return;
    }
    if (!this.histories.has(chat.id)) this.histories.set(chat.id, this.io.history(chat));
    this.history.replaceChildren(el('p', 'muted small', 'Loading…'));
    try {
      const events = await this.histories.get(chat.id);
      if (this.chat === chat) this.#renderHistory(chat, events);
    } catch (err) {
      this.histories.delete(chat.id);
      if (this.chat === chat) this.history.replaceChildren(el('p', 'error', `Could not load: ${err.message}`));
    }
  }

  #renderHistory(chat, events) {
    const segments = new Map();
    for (const e of events) {
      if (e.conversation_id === chat.id) continue;
      if (!segments.has(e.conversation_id)) segments.set(e.conversation_id, new ChatState(e.conversation_id));
      segments.get(e.conversation_id).ingest(e);
    }
    if (!segments.size) {
      this.history.replaceChildren(el('p', 'muted small', 'None.'));
      return;
    }
    const blocks = [...segments.values()].map((segment) => {
      const details = el('details', 'segment');
      details.setAttribute('data-testid', 'history-segment');
      const first = segment.ordered()[0];
      const messages = segment.ordered().filter((e) => e.type === 'message');
      details.append(el('summary', null,
        `${first ? new Date(first.at).toLocaleDateString() : ''} ${first ? formatTime(first.at) : ''} · ${messages.length} messages`));
      const list = el('ol', 'events compact');
      const io = {
        attachment: (id) => this.io.attachment(segment.id, id),
        submitForm: () => Promise.reject(new Error('This conversation has ended.')),
      };
      for (const e of segment.ordered()) {
        if (e.type === 'form') continue;
        const row = renderEvent(segment, e, io);
        if (row) list.append(row);
      }
      details.append(list);
      return details;
    });
    this.history.replaceChildren(...blocks);
  }
}

function pairs(entries) {
  return entries.flatMap(([k, v]) => [el('dt', null, k), el('dd', null, v)]);
}

function describe(value) {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`).join(', ');
  }
  return JSON.stringify(value);
}
