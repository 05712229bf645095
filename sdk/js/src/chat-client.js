// ChatClient: a customer (or any participant) in one conversation.

import { StreamClient } from './connection.js';
import { Http, isTransient } from './http.js';
import { Sequencer } from './sequencer.js';
import { ConnectionLost } from './outbox.js';
import { SwitchboardError } from './errors.js';
import { transcriptPage, transcriptPages, eventsBetween } from './transcript.js';
import { uploadFile } from './upload.js';
import { defaultBaseUrl, randomToken, toWebSocketUrl, toAck, retrying, sleep } from './util.js';

const TYPING_INTERVAL_MS = 2000;
const PREVIEW_MAX = 200;

export class ChatClient extends StreamClient {
  #conversationId;
  #seq;
  #transport;
  #mode;
  #fallbackAfter;
  #failedOpens = 0;
  #pollWaitSecs;
  #pollAbort = null;
  #polling = false;
  #participant = null;
  #conversation = null;
  #endedSeen = false;
  #agentJoined = false;
  #lastPosition = null;
  #helloSaysEnded = false;
  #typingAt = 0;
  #typingPreview;
  #previewsWork = true;
  #previewSentWithoutRef = false;

  /** Starts a new chat on a public entry point, then (unless `connect: false`) connects. */
  static async start({ entryPointId, displayName, attributes, recordId, continueFrom, connect = true, ...opts }) {
    if (!entryPointId) throw new TypeError('entryPointId is required');
    const baseUrl = opts.baseUrl ?? defaultBaseUrl();
    // Continuing an ended chat proves it with that chat's token.
    const http = new Http({ baseUrl, token: continueFrom?.token, fetch: opts.fetch, timeoutMs: opts.timeoutMs });
    const body = {};
    if (displayName != null) body.display_name = displayName;
    if (attributes != null) body.attributes = attributes;
    if (recordId != null) body.record_id = recordId;
    if (continueFrom) {
      body.continue_from = {
        conversation_id: continueFrom.conversationId,
        rehydration: continueFrom.rehydration ?? 'entire_past_session',
      };
    }
    const started = await http.request('POST', `/entry-points/${encodeURIComponent(entryPointId)}/chats`, body, { auth: Boolean(continueFrom) });
    const chat = new ChatClient({ ...opts, baseUrl, token: started.token, conversationId: started.conversation.id, lastSeq: 0 });
    chat.#participant = started.participant;
    chat.#conversation = started.conversation;
    if (connect) {
      // What arrives while connecting is emitted in the task after this
      // resolves, so listeners added right after `await start()` miss nothing.
      chat.#held = [];
      try {
        await chat.connect();
      } finally {
        setTimeout(() => chat.#release(), 0);
      }
    }
    return chat;
  }

  #held = null;

  emit(type, payload) {
    if (this.#held) this.#held.push([type, payload]);
    else super.emit(type, payload);
  }

  #release() {
    const held = this.#held ?? [];
    this.#held = null;
    for (const [type, payload] of held) super.emit(type, payload);
  }

  /** A client for an existing chat (e.g. from `snapshot()`); call `connect()`. */
  static resume(opts) {
    return new ChatClient(opts);
  }

  constructor(opts) {
    super(opts);
    if (!opts.conversationId) throw new TypeError('conversationId is required');
    this.#conversationId = opts.conversationId;
    this.#mode = opts.transport ?? 'auto';
    if (!['auto', 'websocket', 'longpoll'].includes(this.#mode)) throw new TypeError(`unknown transport ${this.#mode}`);
    this.#transport = this.#mode === 'longpoll' ? 'longpoll' : 'websocket';
    this.#fallbackAfter = opts.fallbackAfter ?? 3;
    this.#pollWaitSecs = opts.pollWaitSecs ?? 25;
    this.#seq = new Sequencer({
      lastSeq: opts.lastSeq ?? 0,
      fill: (after, before) => eventsBetween(this.http, this.#conversationId, after, before),
      deliver: (ev) => this.#deliver(ev),
      onUnfillable: () => this.#resync(),
    });
  }

  get conversationId() {
    return this.#conversationId;
  }
  get lastSeq() {
    return this.#seq.lastSeq;
  }
  get transport() {
    return this.#transport;
  }
  get participant() {
    return this.#participant;
  }
  get conversation() {
    return this.#conversation;
  }

  snapshot() {
    return { baseUrl: this.baseUrl, token: this.token, conversationId: this.#conversationId, lastSeq: this.lastSeq };
  }

  // ------------------------------------------------------------ sending

  send(content, { contentType, clientToken } = {}) {
    const type = contentType ?? (typeof content === 'string' ? 'text/plain' : 'application/json');
    const text = typeof content === 'string' ? content : JSON.stringify(content);
    return this.outbox.enqueue({ content_type: type, content: text, client_token: clientToken ?? randomToken() });
  }

  typing(previewText) {
    const now = Date.now();
    const preview = typeof previewText === 'string' && this.#previewsWork ? previewText.slice(0, PREVIEW_MAX) : undefined;
    const changed = preview !== undefined && preview !== this.#typingPreview;
    if (!changed && now - this.#typingAt < TYPING_INTERVAL_MS) return;
    if (this.#transport === 'longpoll') {
      if (this.state !== 'open') return;
      this.#typingAt = now;
      this.#typingPreview = preview;
      const body = preview !== undefined ? { type: 'typing', text: preview } : { type: 'typing' };
      this.http.request('POST', this.#path('/events'), body).catch(() => {});
      return;
    }
    const frame = preview !== undefined ? { type: 'typing', text: preview } : { type: 'typing' };
    if (this._fire(frame)) {
      this.#typingAt = now;
      this.#typingPreview = preview;
      this.#previewSentWithoutRef ||= preview !== undefined;
    }
  }

  markDelivered(messageId) {
    return this.#receipt('delivered', messageId);
  }
  markRead(messageId) {
    return this.#receipt('read', messageId);
  }

  async #receipt(kind, messageId) {
    const body = { type: kind, message_id: messageId, client_token: randomToken() };
    return toAck(await retrying(() => this.http.request('POST', this.#path('/events'), body), () => this.closed, isTransient));
  }

  // ------------------------------------------------------------ REST

  transcript(opts) {
    return transcriptPage(this.http, this.#conversationId, opts);
  }
  pages(opts) {
    return transcriptPages(this.http, this.#conversationId, opts);
  }

  async queuePosition() {
    try {
      const q = await this.http.request('GET', this.#path('/queue-position'));
      return { position: q.position, estimatedWaitSecs: q.estimated_wait_secs ?? null };
    } catch (err) {
      if (err instanceof SwitchboardError && err.code === 'not_found') return { position: null, estimatedWaitSecs: null };
      throw err;
    }
  }

  uploadFile(blob, opts) {
    return uploadFile(this.http, this.#conversationId, blob, opts);
  }
  declineFileRequest(requestId) {
    return this.http.request('POST', this.#path(`/file-requests/${encodeURIComponent(requestId)}/decline`), {});
  }
  attachment(attachmentId) {
    return this.http.request('GET', this.#path(`/attachments/${encodeURIComponent(attachmentId)}`));
  }
  submitForm(formId, values) {
    return this.http.request('POST', this.#path(`/forms/${encodeURIComponent(formId)}/submit`), { values });
  }

  /** Ends the chat; a chat that already ended counts as ended. */
  async end() {
    try {
      await this.http.request('POST', this.#path('/end'), {});
    } catch (err) {
      if (!(err instanceof SwitchboardError && err.code === 'conversation_ended')) throw err;
    }
  }

  #path(suffix) {
    return `/conversations/${encodeURIComponent(this.#conversationId)}${suffix}`;
  }

  // ------------------------------------------------------------ transport hooks

  _startTransport() {
    if (this.#mode === 'auto' && !this.WebSocketImpl) this.#transport = 'longpoll';
    if (this.#transport === 'longpoll') this.#startPolling();
    else this._openSocket();
  }

  _reconnect() {
    if (this.#transport === 'longpoll') this.#startPolling();
    else this._openSocket();
  }

  _streamUrl() {
    const q = new URLSearchParams({ token: this.token, after_seq: String(this.lastSeq) });
    return `${toWebSocketUrl(this.baseUrl)}/api/v1/stream?${q}`;
  }

  _onHello(frame) {
    this.#failedOpens = 0;
    this.#participant = frame.participant ?? this.#participant;
    this.#conversation = frame.conversation ?? this.#conversation;
    this.#helloSaysEnded = frame.conversation?.state === 'ended';
    this.emit('hello', { conversation: frame.conversation, participant: frame.participant, lastSeq: frame.last_seq });
  }

  _onFrame(frame) {
    switch (frame.type) {
      case 'event':
        this.#seq.push(frame.event);
        break;
      case 'typing':
        this.emit('typing', frame.text != null ? { participantId: frame.participant_id, text: frame.text } : { participantId: frame.participant_id });
        break;
      case 'queue_position':
        this.emit('queue_position', { position: frame.position, estimatedWaitSecs: frame.estimated_wait_secs ?? null });
        break;
      default:
        break;
    }
  }

  _onUnreferencedError(err) {
    // Only typing frames go without a ref: a server that does not take
    // previews yet refuses them, so previews stop and plain typing goes on.
    if (this.#previewSentWithoutRef && (err.code === 'malformed' || err.code === 'invalid')) {
      this.#previewsWork = false;
      return;
    }
    super._onUnreferencedError(err);
  }

  _onClosedBySocket({ code, reason }) {
    if (code === 1000 && /erased/.test(reason)) {
      this._fail(new SwitchboardError({ code: 'conversation_erased', message: 'the conversation was erased' }));
      return true;
    }
    if (code === 1000 && /ended/.test(reason)) {
      // Everything was sent before the close; end once it is all delivered.
      this.#seq.idle().then(() => {
        if (this.#endedSeen || this.#helloSaysEnded) this._markEnded();
        else this._scheduleReconnect();
      });
      return true;
    }
    return false;
  }

  _onOpenFailed({ restReachable }) {
    // The server answers over HTTP but the socket will not open: something in
    // between blocks WebSockets. After enough tries, long-poll instead.
    if (!restReachable || this.#mode !== 'auto') return false;
    this.#failedOpens += 1;
    if (this.#failedOpens < this.#fallbackAfter) return false;
    this.#transport = 'longpoll';
    this._resetBackoff();
    this.emit('transport', 'longpoll');
    this.#startPolling();
    return true;
  }

  _canDeliver() {
    if (this.closed) return false;
    if (this.state === 'ended') return true; // the server says why (conversation_ended)
    if (this.#transport === 'longpoll') return this.state === 'open';
    return this.socketOpen;
  }

  async _deliver(item) {
    const body = { content_type: item.content_type, content: item.content, client_token: item.client_token };
    if (this.#transport === 'longpoll' || this.state === 'ended') {
      try {
        return toAck(await this.http.request('POST', this.#path('/messages'), body));
      } catch (err) {
        if (isTransient(err)) throw new ConnectionLost(err.message);
        throw err;
      }
    }
    const ack = await this._command({ type: 'send', ...body });
    return toAck(ack);
  }

  _onDeliveryLost() {
    // Over the socket, the reconnect wakes the outbox; over REST (long-poll,
    // or after the end), try again after a pause.
    if (this.#transport === 'longpoll' || this.state === 'ended') setTimeout(() => this.outbox.wake(), this._nextBackoff());
  }

  async _pingOtherwise() {
    if (this.#transport !== 'longpoll') return false;
    try {
      await this.http.request('GET', '/me', undefined, { timeoutMs: 5000 });
      return true;
    } catch {
      return false;
    }
  }

  _onShutdown() {
    this.#pollAbort?.abort();
  }

  // ------------------------------------------------------------ delivery

  #deliver(ev) {
    this.emit('event', ev);
    switch (ev.type) {
      case 'message':
        this.emit('message', ev);
        break;
      case 'form':
        this.emit('form', ev);
        break;
      case 'file.requested':
        this.emit('file_requested', ev);
        break;
      case 'attachment':
        this.emit('attachment', ev);
        break;
      case 'participant.joined':
        if (ev.role === 'agent') this.#agentJoined = true;
        break;
      case 'conversation.ended':
        this.#endedSeen = true;
        this.emit('ended', ev);
        this._markEnded();
        this.#pollAbort?.abort();
        this.outbox.wake();
        break;
      default:
        break;
    }
  }

  /** A hole could not be filled: drop the stream and resume from the last delivered seq. */
  #resync() {
    if (this.#transport === 'longpoll') return; // the poll resumes from the cursor by itself
    this._restartSocket('resync');
  }

  // ------------------------------------------------------------ long-poll

  async #startPolling() {
    if (this.#polling) return;
    this.#polling = true;
    this.#pollAbort = new AbortController();
    let wait = 0; // the first poll answers at once, so the client is open without waiting
    try {
      while (!this.closed && this.state !== 'ended') {
        await this.#seq.idle();
        let body;
        try {
          const q = new URLSearchParams({ after_seq: String(this.lastSeq), wait: String(wait) });
          body = await this.http.request('GET', this.#path(`/poll?${q}`), undefined, {
            timeoutMs: (wait + 15) * 1000,
            signal: this.#pollAbort.signal,
          });
        } catch (err) {
          if (this.closed || this.state === 'ended' || err.code === 'aborted') return;
          if (!isTransient(err)) {
            this._fail(err);
            return;
          }
          this._scheduleBackoffState();
          await sleep(this._nextBackoff());
          wait = 0; // answer at once when the server is back, to be open without waiting
          continue;
        }
        this._resetBackoff();
        if (this.state !== 'open') {
          this._setState('open');
          this.outbox.wake();
        }
        if (body) {
          for (const ev of body.events ?? []) this.#seq.push(ev, { trusted: true });
          if (body.last_seq != null) this.#seq.advanceTo(body.last_seq);
        }
        // No socket frames tell the place in line: ask, and poll more often while waiting.
        const waiting = !this.#agentJoined && this.listenerCount('queue_position') > 0;
        if (waiting) await this.#pollQueuePosition();
        wait = waiting ? Math.min(this.#pollWaitSecs, 10) : this.#pollWaitSecs;
      }
    } finally {
      this.#polling = false;
    }
  }

  async #pollQueuePosition() {
    let q;
    try {
      q = await this.queuePosition();
    } catch {
      return;
    }
    if (q.position == null) return;
    const prev = this.#lastPosition;
    if (prev && prev.position === q.position && prev.estimatedWaitSecs === q.estimatedWaitSecs) return;
    this.#lastPosition = q;
    this.emit('queue_position', q);
  }

  _scheduleBackoffState() {
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    this._setState(offline ? 'offline' : 'reconnecting');
  }
}
