// "Why waiting?": GET /conversations/{id}/task/explain shown as readable tables
// — who would get the chat next and why, who is skipped and why.

import { h, clear } from '../shared/dom.js';
import { formatDuration, clockTimeSeconds, stateLabel } from './format.js';

const REASONS = {
  disabled: 'Disabled',
  not_present: 'Not receiving chats',
  outside_hours: 'The queue is closed (outside its hours)',
  not_the_named_agent: 'The chat is for another, named agent',
  expression_false: 'Does not serve this queue',
  at_capacity: 'Every slot taken',
  declined_before: 'Passed on this chat already',
  eligible: 'Can be offered the chat',
};

const WINS = {
  longest_idle: 'has waited longest since its last chat',
  least_busy: 'has the fewest chats',
  named_agent: 'the chat is for this agent',
  preferred_agent: 'it had this customer’s earlier chat',
  only_one_eligible: 'it is the only one who can take it',
};

function reasonText(s) {
  const base = REASONS[s.reason] || s.reason;
  if (s.reason === 'not_present' && s.activity) return `${base} (${s.activity})`;
  if (s.reason === 'at_capacity' && s.capacity != null) return `${base} (${s.load} of ${s.capacity})`;
  if (s.reason === 'expression_false' && s.condition) return `${base} (${s.condition === 'step' ? 'the workflow step’s condition' : 'the queue’s expression'})`;
  return base;
}

function table(caption, head, rows, testid) {
  return h('div', { class: 'table-wrap', role: 'region', tabindex: 0, 'aria-label': caption }, h('table', { class: 'data', 'data-testid': testid },
    h('caption', { class: 'visually-hidden' }, caption),
    h('thead', {}, h('tr', {}, head.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, rows.map((cells) => h('tr', {}, cells.map((c, i) => (i === 0 ? h('th', { scope: 'row' }, c) : h('td', {}, c))))))));
}

/** Builds the explanation's content. */
export function renderExplanation(x) {
  const parts = [];
  const task = x.task || {};
  const facts = [
    ['State', stateLabel(task.state)],
    ['Queue', x.queue ? `${x.queue.name} (${x.queue.ordering === 'least_busy' ? 'least busy first' : 'longest idle first'})` : '—'],
    ['Who serves it', x.queue ? x.queue.expression || 'every agent' : '—'],
    ['In line for', task.waiting_secs != null ? formatDuration(task.waiting_secs) : '—'],
    ['Step', `${(task.step ?? 0) + 1} of ${task.route?.length || 1}`],
    ['Priority', String(task.priority ?? 0)],
  ];
  if (x.now?.position != null) facts.push(['Place in line', String(x.now.position)]);
  parts.push(h('dl', { class: 'explain-facts' }, facts.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)])));

  const now = x.now;
  if (!now) {
    const offered = [...(x.history || [])].reverse().find((e) => e.what === 'offered' && e.detail?.won);
    const why = offered ? ` It went to that agent because it ${WINS[offered.detail.won.reason] || offered.detail.won.reason}`
      + ` (${offered.detail.eligible ?? '?'} could take it).` : '';
    parts.push(h('p', { class: 'verdict', 'data-testid': 'explain-verdict' }, task.state === 'offered'
      ? `The chat is being offered to an agent now.${why}`
      : `The chat is not waiting any more; its history says what happened.${why}`));
  } else {
    const first = now.eligible?.[0];
    parts.push(h('p', { class: 'verdict', 'data-testid': 'explain-verdict' }, first
      ? `Next: ${first.name}, because ${WINS[now.winner?.reason] || now.winner?.reason || 'it ranks first'}.${now.position > 1 ? ` ${now.position - 1} chat(s) are ahead of this one.` : ''}`
      : 'Nobody can take this chat now: it waits.'));
    const counts = Object.entries(now.counts || {}).filter(([, n]) => n > 0);
    parts.push(h('p', { class: 'small muted' }, `Of ${now.agents} agent(s): `,
      counts.map(([reason, n]) => `${REASONS[reason] || reason}: ${n}`).join('; ') || 'none'));
    if (now.eligible?.length) {
      parts.push(h('h3', {}, 'Can take it'));
      parts.push(table('Agents who can take the chat, best first', ['Agent', 'Rank', 'Chats', 'Idle since'],
        now.eligible.map((a) => [a.name, String(a.rank), `${a.load} / ${a.capacity}`, clockTimeSeconds(Date.parse(a.idle_since))]),
        'explain-eligible'));
    }
    if (now.skipped?.length) {
      parts.push(h('h3', {}, 'Skipped'));
      parts.push(table('Agents skipped, nearest to eligible first', ['Agent', 'Why not'],
        now.skipped.map((a) => [a.name, reasonText(a)]), 'explain-skipped'));
    }
  }
  if (x.history?.length) {
    parts.push(h('h3', {}, 'History'));
    parts.push(table('What happened to the chat so far', ['Time', 'What'],
      x.history.map((e) => [clockTimeSeconds(Date.parse(e.at)), e.what.replaceAll('_', ' ')]), 'explain-history'));
  }
  return parts;
}

export class ExplainDialog {
  constructor(api) {
    this.api = api;
    this.dialog = document.getElementById('explain-dialog');
    this.body = document.getElementById('explain-body');
    this.conversationId = null;
    // The dialog outlives a session: its listeners go with destroy().
    this.listening = new AbortController();
    const opts = { signal: this.listening.signal };
    document.getElementById('explain-close').addEventListener('click', () => this.dialog.close(), opts);
    document.getElementById('explain-refresh').addEventListener('click', () => this.#load(), opts);
  }

  destroy() {
    this.listening.abort();
    if (this.dialog.open) this.dialog.close();
  }

  show(conversationId) {
    this.conversationId = conversationId;
    clear(this.body).append(h('p', { class: 'muted' }, 'Loading…'));
    if (!this.dialog.open) this.dialog.showModal();
    return this.#load();
  }

  async #load() {
    try {
      const x = await this.api.get(`/conversations/${this.conversationId}/task/explain`);
      clear(this.body).append(...renderExplanation(x));
    } catch (err) {
      clear(this.body).append(h('p', { class: 'error', role: 'alert' }, `Cannot explain this chat: ${err.message}`));
    }
  }
}
