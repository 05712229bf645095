// AgentClient: an agent's whole workload over one socket — offers, every
// assigned conversation's events (each once, in seq order per conversation),
// presence, agent-side flows.

import { StreamClient } from './connection.js';
import { Http, isTransient } from './http.js';
import { Sequencer } from './sequencer.js';
import { SwitchboardError } from './errors.js';
import { ConnectionLost } from './outbox.js';
import { transcriptPage, transcriptPages, eventsBetween } from './transcript.js';
import { uploadFile } from './upload.js';
import { defaultBaseUrl, randomToken, toWebSocketUrl, toAck, retrying } from './util.js';

const TYPING_INTERVAL_MS = 2000;

export class AgentClient extends StreamClient {
  #agent = null;
  #offers = new Map();
  #chats = new Map(); // conversation id → Sequencer
  #typingAt = new Map();

  /** Logs in with login and password; the client is not connected yet. */
  static async login({ login, password, ...opts }) {
    const baseUrl = opts.baseUrl ?? defaultBaseUrl();
    const http = new Http({ baseUrl, fetch: opts.fetch, timeoutMs: opts.timeoutMs });
    const r = await http.request('POST', '/agents/login', { login, password }, { auth: false });
    const client = new AgentClient({ ...opts, baseUrl, token: r.token });
    client.#agent = r.agent;
    return client;
  }

  constructor(opts) {
    super(opts);
    for (const [id, seq] of Object.entries(opts.lastSeqs ?? {})) this.#track(id, seq);
  }

  get agent() {
    return this.#agent;
  }
  get offers() {
    return this.#offers;
  }
  /** Assigned conversations, each with the last seq delivered. */
  get conversations() {
    const out = new Map();
    for (const [id, s] of this.#chats) out.set(id, { lastSeq: s.lastSeq });
    return out;
  }

  // ------------------------------------------------------------ commands

  setActivity(activity) {
    return this.#commandOrRest({ type: 'activity', activity }, () =>
      this.http.request('PUT', '/agents/me/activity', { activity }),
    );
  }

  accept(offerId) {
    return this.#commandOrRest({ type: 'accept', offer_id: offerId }, () =>
      this.http.request('POST', `/offers/${encodeURIComponent(offerId)}/accept`, {}),
    );
  }

  decline(offerId) {
    return this.#commandOrRest({ type: 'decline', offer_id: offerId }, () =>
      this.http.request('POST', `/offers/${encodeURIComponent(offerId)}/decline`, {}),
    );
  }

  /** Over the socket when it is open (the answer's `result`), else by REST. */
  async #commandOrRest(frame, rest) {
    if (this.socketOpen) {
      try {
        const ack = await this._command(frame);
        return ack.result;
      } catch (err) {
        if (!(err instanceof ConnectionLost)) throw err;
        throw new SwitchboardError({ code: 'network_error', message: `${frame.type}: the connection was lost before the answer` });
      }
    }
    return rest();
  }

  send(conversationId, content, { contentType, clientToken } = {}) {
    const type = contentType ?? (typeof content === 'string' ? 'text/plain' : 'application/json');
    const text = typeof content === 'string' ? content : JSON.stringify(content);
    return this.outbox.enqueue({
      conversation_id: conversationId,
      content_type: type,
      content: text,
      client_token: clientToken ?? randomToken(),
    });
  }

  typing(conversationId) {
    const now = Date.now();
    if (now - (this.#typingAt.get(conversationId) ?? 0) < TYPING_INTERVAL_MS) return;
    if (this._fire({ type: 'typing', conversation_id: conversationId })) this.#typingAt.set(conversationId, now);
  }

  markDelivered(conversationId, messageId) {
    return this.#receipt(conversationId, 'delivered', messageId);
  }
  markRead(conversationId, messageId) {
    return this.#receipt(conversationId, 'read', messageId);
  }

  async #receipt(conversationId, kind, messageId) {
    const body = { type: kind, message_id: messageId, client_token: randomToken() };
    const path = `${conv(conversationId)}/events`;
    return toAck(await retrying(() => this.http.request('POST', path, body), () => this.closed, isTransient));
  }

  // ------------------------------------------------------------ REST

  transcript(conversationId, opts) {
    return transcriptPage(this.http, conversationId, opts);
  }
  pages(conversationId, opts) {
    return transcriptPages(this.http, conversationId, opts);
  }
  /** Queues, agents, flows and canned responses the agent may use (`GET /directory`). */
  directory() {
    return this.http.request('GET', '/directory');
  }
  conversation(conversationId) {
    return this.http.request('GET', conv(conversationId));
  }
  transfer(conversationId, { queueId, queue, agentId } = {}) {
    const body = {};
    if (queueId ?? queue) body.queue = queueId ?? queue;
    if (agentId) body.agent_id = agentId;
    return this.http.request('POST', `${conv(conversationId)}/transfer`, body);
  }
  end(conversationId) {
    return this.http.request('POST', `${conv(conversationId)}/end`, {});
  }
  requestFile(conversationId, body = {}) {
    return this.http.request('POST', `${conv(conversationId)}/file-requests`, body);
  }
  uploadFile(conversationId, blob, opts) {
    return uploadFile(this.http, conversationId, blob, opts);
  }
  attachment(conversationId, attachmentId) {
    return this.http.request('GET', `${conv(conversationId)}/attachments/${encodeURIComponent(attachmentId)}`);
  }
  submitForm(conversationId, formId, values) {
    return this.http.request('POST', `${conv(conversationId)}/forms/${encodeURIComponent(formId)}/submit`, { values });
  }
  launchFlow(flow, conversationId, params = {}) {
    return this.http.request('POST', `/flows/${encodeURIComponent(flow)}/runs`, { conversation_id: conversationId, params });
  }

  // ------------------------------------------------------------ socket hooks

  _streamUrl() {
    const q = new URLSearchParams({ token: this.token });
    const after = [...this.#chats].map(([id, s]) => `${id}:${s.lastSeq}`).join(',');
    if (after) q.set('after', after);
    return `${toWebSocketUrl(this.baseUrl)}/api/v1/stream?${q}`;
  }

  _onHello(frame) {
    this.#agent = frame.agent ?? this.#agent;
    this.emit('hello', { agent: frame.agent, conversations: frame.conversations ?? [], offers: frame.offers ?? [] });
    // Reconcile what changed while the socket was away.
    const now = new Set();
    for (const c of frame.conversations ?? []) {
      now.add(c.conversation_id);
      if (!this.#chats.has(c.conversation_id)) {
        this.#track(c.conversation_id, c.last_seq);
        this.emit('assigned', { conversationId: c.conversation_id });
      }
    }
    for (const id of [...this.#chats.keys()]) {
      if (!now.has(id)) {
        this.#chats.delete(id);
        this.emit('released', { conversationId: id });
      }
    }
    const pending = new Map((frame.offers ?? []).map((o) => [o.id, o]));
    for (const [id, offer] of this.#offers) {
      if (!pending.has(id)) {
        this.#offers.delete(id);
        this.emit('offer_closed', { offer, state: 'unknown' });
      }
    }
    for (const [id, offer] of pending) {
      if (!this.#offers.has(id)) {
        this.#offers.set(id, offer);
        this.emit('offer', offer);
      }
    }
  }

  _onFrame(frame) {
    switch (frame.type) {
      case 'event': {
        const ev = frame.event;
        const id = ev?.conversation_id;
        if (!id) return;
        // An event of a chat the client has not heard of: trust the socket's start.
        if (!this.#chats.has(id)) this.#track(id, ev.seq - 1);
        this.#chats.get(id).push(ev);
        break;
      }
      case 'offer':
        this.#offers.set(frame.offer.id, frame.offer);
        this.emit('offer', frame.offer);
        break;
      case 'offer_closed':
        this.#offers.delete(frame.offer?.id);
        this.emit('offer_closed', { offer: frame.offer, state: frame.state });
        break;
      case 'assigned':
        // A chat assigned while the socket is open starts from its first event.
        if (!this.#chats.has(frame.conversation_id)) this.#track(frame.conversation_id, 0);
        this.emit('assigned', { conversationId: frame.conversation_id });
        break;
      case 'released':
        this.#chats.delete(frame.conversation_id);
        this.#typingAt.delete(frame.conversation_id);
        this.emit('released', { conversationId: frame.conversation_id });
        break;
      case 'presence':
        this.emit('presence', { activity: frame.activity, available: frame.available });
        break;
      case 'agent_input':
        this.emit('agent_input', { conversationId: frame.conversation_id, text: frame.text });
        break;
      case 'flow.run':
        this.emit('flow_run', {
          runId: frame.run_id,
          conversationId: frame.conversation_id,
          flow: frame.flow,
          state: frame.state,
          step: frame.step ?? null,
          vars: frame.vars ?? {},
        });
        break;
      case 'typing': {
        const t = { conversationId: frame.conversation_id, participantId: frame.participant_id };
        if (frame.text != null) t.text = frame.text;
        this.emit('typing', t);
        break;
      }
      default:
        break;
    }
  }

  async _deliver(item) {
    const ack = await this._command({
      type: 'send',
      conversation_id: item.conversation_id,
      content_type: item.content_type,
      content: item.content,
      client_token: item.client_token,
    });
    return toAck(ack);
  }

  // ------------------------------------------------------------ delivery

  #track(conversationId, lastSeq) {
    const s = new Sequencer({
      lastSeq,
      fill: (after, before) => eventsBetween(this.http, conversationId, after, before),
      deliver: (ev) => this.#deliver(conversationId, ev),
      onUnfillable: () => this._restartSocket('resync'),
    });
    this.#chats.set(conversationId, s);
    return s;
  }

  #deliver(conversationId, ev) {
    if (!ev.conversation_id) ev.conversation_id = conversationId;
    this.emit('event', ev);
    if (ev.type === 'message') this.emit('message', ev);
    else if (ev.type === 'form') this.emit('form', ev);
  }
}

function conv(id) {
  return `/conversations/${encodeURIComponent(id)}`;
}
