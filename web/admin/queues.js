// Queues: the list, and a form for the routing fields (see docs/routing.md):
// expression, ordering, offer timeout, wrap-up, reply timers, the previous
// agent preference and the schedule.

import { h } from '../shared/dom.js';
import { field, clearErrors, showError, intOrNull, fillRows, rowButton, formErrorLine } from './form-kit.js';
import { ListSection } from './list-section.js';

const ORDERINGS = [['longest_idle', 'Longest idle first'], ['least_busy', 'Least busy first']];
const ON_TIMEOUT = [['next_agent', 'Offer it to the next agent'], ['queue', 'Move it to another queue'], ['alert', 'Alert only (the agent keeps it)']];

export class QueuesSection extends ListSection {
  constructor(root, api) {
    super(root, api, {
      item: 'queue', items: 'queues', label: 'Queues', newLabel: 'New queue',
      heads: ['Name', 'Who serves it', 'Ordering', 'Offer timeout', 'Wrap-up', 'Reply timers', 'Schedule'],
    });
  }

  async show() {
    const lists = await this.load('queues', () => Promise.all([this.api.get('/queues'), this.api.get('/schedules')]));
    if (!lists) return;
    [this.queues, this.schedules] = lists;
    fillRows(this.tbody, this.queues.map((q) => this.#row(q)), 8, 'No queues yet.');
  }

  #row(q) {
    const timers = [q.first_reply_secs && `first reply ${q.first_reply_secs} s`, q.reply_secs && `reply ${q.reply_secs} s`].filter(Boolean).join(', ');
    return h('tr', { 'data-testid': 'queue-row', 'data-queue-id': q.id },
      h('th', { scope: 'row' }, q.name),
      h('td', {}, q.expression ? h('code', {}, q.expression) : 'every agent'),
      h('td', {}, q.ordering === 'least_busy' ? 'least busy' : 'longest idle'),
      h('td', { class: 'num' }, `${q.offer_timeout_secs} s`),
      h('td', { class: 'num' }, `${q.wrap_up_secs} s`),
      h('td', {}, timers || '—'),
      h('td', {}, q.schedule || 'always open'),
      h('td', {}, rowButton('Edit', q.name, { testid: 'queue-edit', onClick: () => this.edit(q) })));
  }

  edit(queue) {
    const creating = !queue;
    const others = (this.queues || []).filter((q) => q.id !== queue?.id);
    const f = {
      name: field({ label: 'Name', field: 'name', value: queue?.name, required: true }),
      expression: field({ label: 'Who serves it (CEL expression over agent)', field: 'expression', value: queue?.expression, hint: 'e.g. "billing" in agent.skills && agent.level >= 2 — empty: every agent.', attrs: { class: 'code', spellcheck: 'false' } }),
      ordering: field({ label: 'Ordering', field: 'ordering', type: 'select', options: ORDERINGS, value: queue?.ordering || 'longest_idle' }),
      offer: field({ label: 'Offer timeout (seconds)', field: 'offer_timeout_secs', type: 'number', value: queue?.offer_timeout_secs ?? 30, attrs: { min: 1, max: 86400 } }),
      wrap: field({ label: 'Wrap-up (seconds)', field: 'wrap_up_secs', type: 'number', value: queue?.wrap_up_secs ?? 0, attrs: { min: 0, max: 86400 } }),
      firstReply: field({ label: 'First reply within (seconds)', field: 'first_reply_secs', type: 'number', value: queue?.first_reply_secs, hint: 'Empty: no limit.', attrs: { min: 1, max: 86400 } }),
      reply: field({ label: 'Each reply within (seconds)', field: 'reply_secs', type: 'number', value: queue?.reply_secs, hint: 'Empty: no limit.', attrs: { min: 1, max: 86400 } }),
      onTimeout: field({ label: 'When a reply is missed', field: 'on_reply_timeout', type: 'select', options: ON_TIMEOUT, value: queue?.on_reply_timeout || 'next_agent' }),
      timeoutQueue: field({ label: 'Move to queue', field: 'reply_timeout_queue', type: 'select', options: [['', '—'], ...others.map((q) => [q.id, q.name])], value: queue?.reply_timeout_queue_id || '' }),
      prefer: field({ label: 'Prefer the previous agent for (seconds)', field: 'prefer_previous_agent_secs', type: 'number', value: queue?.prefer_previous_agent_secs, hint: 'For continued chats. Empty: off.', attrs: { min: 1, max: 86400 } }),
      schedule: field({ label: 'Hours (schedule)', field: 'schedule', type: 'select', options: [['', 'Always open'], ...(this.schedules || []).map((s) => s.name)], value: queue?.schedule || '' }),
    };
    const syncTimeoutQueue = () => { f.timeoutQueue.wrap.hidden = f.onTimeout.input.value !== 'queue'; };
    f.onTimeout.input.addEventListener('change', syncTimeoutQueue);
    syncTimeoutQueue();
    const formError = formErrorLine();
    const form = h('form', { novalidate: true, 'data-testid': 'queue-form' },
      h('h3', {}, creating ? 'New queue' : `Edit ${queue.name}`),
      h('div', { class: 'two-cols' }, f.name.wrap, f.ordering.wrap),
      f.expression.wrap,
      h('div', { class: 'two-cols' }, f.offer.wrap, f.wrap.wrap, f.prefer.wrap, f.schedule.wrap),
      h('fieldset', {}, h('legend', {}, 'Reply timers'),
        h('div', { class: 'two-cols' }, f.firstReply.wrap, f.reply.wrap, f.onTimeout.wrap, f.timeoutQueue.wrap)),
      formError,
      h('div', { class: 'form-buttons' },
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'queue-save' }, creating ? 'Create queue' : 'Save'),
        h('button', { type: 'button', on: { click: () => this.closeEditor() } }, 'Cancel')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const body = {
        name: f.name.input.value.trim(),
        expression: f.expression.input.value.trim() || null,
        ordering: f.ordering.input.value,
        offer_timeout_secs: intOrNull(f.offer.input),
        wrap_up_secs: intOrNull(f.wrap.input),
        first_reply_secs: intOrNull(f.firstReply.input),
        reply_secs: intOrNull(f.reply.input),
        on_reply_timeout: f.onTimeout.input.value,
        prefer_previous_agent_secs: intOrNull(f.prefer.input),
        schedule: f.schedule.input.value || null,
      };
      if (body.on_reply_timeout === 'queue') body.reply_timeout_queue = f.timeoutQueue.input.value || null;
      for (const [k, v] of Object.entries(body)) {
        if (Number.isNaN(v)) return showError(form, { field: k, message: 'A whole number, please.' });
      }
      if (creating) for (const k of Object.keys(body)) if (body[k] === null) delete body[k];
      await this.save(form, { path: '/queues', id: queue?.id, body, noun: 'Queue' });
      return undefined;
    });
    this.openEditor(f.name.input, form);
  }
}
