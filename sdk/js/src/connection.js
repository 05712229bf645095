// The socket life both clients share: open, greet, reconnect with backoff and
// jitter, answer refs (ack / error / pong), watch liveness, listen to the
// browser coming back. Subclasses say where to connect and what frames mean.

import { Emitter } from './emitter.js';
import { Http } from './http.js';
import { Outbox, ConnectionLost } from './outbox.js';
import { SwitchboardError, CLIENT_CLOSED, clientError } from './errors.js';
import { backoffDelay, deferred, defaultBaseUrl, trimSlash } from './util.js';

const OPEN = 1;
const CLOSED = 3;
/** Close codes after which reconnecting cannot help. */
const POLICY = 1008;
const MESSAGE_TOO_BIG = 1009;

export class StreamClient extends Emitter {
  #state = 'idle';
  #ws = null;
  #attempt = 0;
  #reconnectTimer = null;
  #watchdog = null;
  #lastHeard = 0;
  #heartbeatMs = 20000;
  #refs = new Map();
  #nextRef = 1;
  #connectWaiters = [];
  #browserHooks = null;
  #started = false;

  constructor(opts = {}) {
    super();
    const baseUrl = opts.baseUrl ?? defaultBaseUrl();
    if (!opts.token) throw new TypeError('token is required');
    this.http = new Http({ baseUrl, token: opts.token, fetch: opts.fetch, timeoutMs: opts.timeoutMs ?? 15000 });
    this.baseUrl = trimSlash(baseUrl);
    this.token = opts.token;
    this.timeoutMs = opts.timeoutMs ?? 15000;
    this.reconnectOptions = opts.reconnect ?? {};
    this.WebSocketImpl = opts.WebSocket ?? globalThis.WebSocket;
    this.watchBrowser = opts.watchBrowser ?? (typeof window !== 'undefined' && typeof window.addEventListener === 'function');
    this.outbox = new Outbox({
      deliver: (item) => this._deliver(item),
      isReady: () => this._canDeliver(),
      onLost: () => this._onDeliveryLost(),
    });
  }

  get state() {
    return this.#state;
  }

  /** Whether a socket is open and greeted. */
  get socketOpen() {
    return this.#ws !== null && this.#state === 'open' && this.#ws.readyState === OPEN;
  }

  /** Sends waiting to be stored (queued while offline, or in flight). */
  get pendingSends() {
    return this.outbox.size;
  }

  get closed() {
    return this.#state === 'closed';
  }

  /** Opens the stream; resolves once it is open, rejects if it can never open (bad token, closed). */
  connect() {
    if (this.#state === 'closed') return Promise.reject(clientError(CLIENT_CLOSED, 'the client is closed'));
    if (this.#state === 'open' || this.#state === 'ended') return Promise.resolve();
    const d = deferred();
    this.#connectWaiters.push(d);
    if (!this.#started) {
      this.#started = true;
      this._setState('connecting');
      this.#hookBrowser();
      this._startTransport();
    }
    return d.promise;
  }

  /** Closes for good: pending sends reject with `client_closed`. */
  close() {
    if (this.#state === 'closed') return;
    this.#shutdown();
    this._setState('closed');
    this.#rejectConnect(clientError(CLIENT_CLOSED, 'the client was closed'));
  }

  /** Asks the server for a pong; true if it answered. A silent socket is dropped and reopened. */
  async ping() {
    if (this.#state === 'closed' || this.#state === 'ended') return false;
    if (!this.socketOpen) {
      if (this.#reconnectTimer) this._reconnectNow();
      return this._pingOtherwise();
    }
    try {
      await this._command({ type: 'ping' }, 5000);
      return true;
    } catch {
      return false;
    }
  }

  /** Authenticated REST call (path under /api/v1). */
  request(method, path, body) {
    return this.http.request(method, path, body);
  }

  // ------------------------------------------------------------ for subclasses

  _setState(s) {
    if (this.#state === s) return;
    if (this.#state === 'closed') return;
    this.#state = s;
    this.emit('state', s);
    if (s === 'open' || s === 'ended') this.#resolveConnect();
  }

  /** Opens a socket (subclasses may start another transport instead). */
  _startTransport() {
    this._openSocket();
  }

  _openSocket() {
    if (!this.WebSocketImpl) {
      this._fail(clientError('client_transport', 'no WebSocket available: pass one in the options'));
      return;
    }
    let ws;
    try {
      ws = new this.WebSocketImpl(this._streamUrl());
    } catch (err) {
      this.#afterClose({ code: 1006, reason: String(err?.message || err), greeted: false });
      return;
    }
    this.#ws = ws;
    let greeted = false;
    const helloTimer = setTimeout(() => {
      if (!greeted && this.#ws === ws) this.#drop(ws, 'no hello in time', false);
    }, this.timeoutMs);
    ws.onmessage = (m) => {
      if (this.#ws !== ws) return;
      this.#lastHeard = Date.now();
      let frame;
      try {
        frame = JSON.parse(typeof m.data === 'string' ? m.data : String(m.data));
      } catch {
        return;
      }
      if (frame?.type === 'hello' && !greeted) {
        greeted = true;
        clearTimeout(helloTimer);
        this.#attempt = 0;
        this.#startWatchdog(frame.heartbeat_secs);
        this._onHello(frame);
        if (this.#state !== 'ended' && this.#state !== 'closed') this._setState('open');
        this.outbox.wake();
        return;
      }
      if (!this.#answerRef(frame)) this._onFrame(frame);
    };
    // A close event follows an error in browsers; some runtimes (Node 20) send
    // none after a refused handshake, so an error not followed by a close soon
    // counts as one.
    ws.onerror = () => {
      const wait = ws.readyState === CLOSED ? 0 : 1000;
      setTimeout(() => {
        if (this.#ws === ws) this.#drop(ws, 'socket error', greeted);
      }, wait);
    };
    ws.onclose = (ev) => {
      if (this.#ws !== ws) return;
      clearTimeout(helloTimer);
      this.#ws = null;
      this.#afterClose({ code: ev?.code ?? 1006, reason: ev?.reason ?? '', greeted });
    };
  }

  /** Sends a frame with a fresh ref; resolves with the `ack`/`pong` frame, rejects with the `error`. */
  _command(frame, timeoutMs = this.timeoutMs) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN) return Promise.reject(new ConnectionLost('not connected'));
    const ref = String(this.#nextRef++);
    const d = deferred();
    const timer = setTimeout(() => {
      if (!this.#refs.has(ref)) return;
      this.#refs.delete(ref);
      d.reject(new ConnectionLost('no answer in time'));
      // A socket that does not answer is presumed dead.
      this.#drop(ws, 'no answer in time', true);
    }, timeoutMs);
    this.#refs.set(ref, { resolve: d.resolve, reject: d.reject, timer, type: frame.type });
    try {
      ws.send(JSON.stringify({ ...frame, ref }));
    } catch {
      clearTimeout(timer);
      this.#refs.delete(ref);
      return Promise.reject(new ConnectionLost('send failed'));
    }
    return d.promise;
  }

  /** Sends a frame that gets no answer (typing); false if no socket is open. */
  _fire(frame) {
    const ws = this.#ws;
    if (!ws || ws.readyState !== OPEN || this.#state !== 'open') return false;
    try {
      ws.send(JSON.stringify(frame));
      return true;
    } catch {
      return false;
    }
  }

  /** Drops the current socket and reconnects (to resume from the cursor). */
  _restartSocket(reason) {
    if (this.#ws) this.#drop(this.#ws, reason, true);
  }

  _reconnectNow() {
    if (this.#state === 'closed' || this.#state === 'ended') return;
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#attempt = 0;
    this._reconnect();
  }

  /** Ends the client with an error nobody can retry past (a revoked token, an erased chat). */
  _fail(err) {
    this.emit('error', err);
    this.#shutdown(err);
    this._setState('closed');
    this.#rejectConnect(err);
  }

  /** Stops reconnecting once the conversation ended; REST calls still work. */
  _markEnded() {
    this.#stopSocket();
    this._setState('ended');
  }

  /** Waits the next backoff delay, then calls `_reconnect`. */
  _scheduleReconnect() {
    if (this.#state === 'closed' || this.#state === 'ended') return;
    clearTimeout(this.#reconnectTimer);
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    this._setState(offline ? 'offline' : 'reconnecting');
    const delay = backoffDelay(this.#attempt++, this.reconnectOptions);
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = null;
      this._reconnect();
    }, delay);
  }

  /** Reconnects the transport (subclasses with another transport override). */
  _reconnect() {
    this._openSocket();
  }

  /** Backoff counter for transports the subclass runs itself. */
  _nextBackoff() {
    return backoffDelay(this.#attempt++, this.reconnectOptions);
  }

  _resetBackoff() {
    this.#attempt = 0;
  }

  // Hooks.
  _streamUrl() {
    throw new Error('not implemented');
  }
  _onHello(_frame) {}
  _onFrame(_frame) {}
  _onUnreferencedError(err) {
    this.emit('error', err);
  }
  /** A socket closed without the client asking; return true if the subclass handled it. */
  _onClosedBySocket(_info) {
    return false;
  }
  _canDeliver() {
    return this.socketOpen;
  }
  _deliver(_item) {
    throw new Error('not implemented');
  }
  _onDeliveryLost() {}
  async _pingOtherwise() {
    return false;
  }

  // ------------------------------------------------------------ private

  #answerRef(frame) {
    if (frame?.type !== 'ack' && frame?.type !== 'error' && frame?.type !== 'pong') return false;
    const ref = frame.ref == null ? null : String(frame.ref);
    const pending = ref === null ? undefined : this.#refs.get(ref);
    if (!pending) {
      // An answer nobody waits for any more (timed out), or an error about a frame without a ref.
      if (frame.type === 'error' && ref === null) this._onUnreferencedError(SwitchboardError.fromBody(frame));
      return true;
    }
    this.#refs.delete(ref);
    clearTimeout(pending.timer);
    if (frame.type === 'error') pending.reject(SwitchboardError.fromBody(frame));
    else pending.resolve(frame);
    return true;
  }

  #failRefs(code) {
    for (const [ref, p] of this.#refs) {
      clearTimeout(p.timer);
      // The server closes with 1009 when a frame is over its size limit: that
      // send can never go, so it is refused rather than retried.
      if (code === MESSAGE_TOO_BIG && p.type === 'send') {
        p.reject(new SwitchboardError({ code: 'payload_too_large', message: 'the message is larger than the server takes' }));
      } else {
        p.reject(new ConnectionLost('connection lost'));
      }
      this.#refs.delete(ref);
    }
  }

  /** Forgets a socket at once (its close may never come if the network is gone). */
  #drop(ws, reason, greeted) {
    if (this.#ws !== ws) return;
    this.#ws = null;
    ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
    try {
      ws.close(4000, reason);
    } catch {
      /* already closing */
    }
    this.#afterClose({ code: 4000, reason, greeted });
  }

  #afterClose(info) {
    this.#stopWatchdog();
    this.#failRefs(info.code);
    if (this.#state === 'closed' || this.#state === 'ended') return;
    if (this._onClosedBySocket(info)) return;
    this.#checkAndReconnect(info);
  }

  /** After a failed or lost socket: a refused token ends the client; anything else retries. */
  async #checkAndReconnect(info) {
    if (!info.greeted || info.code === POLICY) {
      const verdict = await this._probe();
      if (this.#state === 'closed' || this.#state === 'ended') return;
      if (verdict instanceof SwitchboardError) {
        this._fail(verdict);
        return;
      }
      if (!info.greeted && this._onOpenFailed({ ...info, restReachable: verdict === 'reachable' })) return;
    }
    this._scheduleReconnect();
  }

  /** Asks `/me` whether the token still works: 'reachable', 'unreachable' or the refusal. */
  async _probe() {
    try {
      await this.http.request('GET', '/me', undefined, { timeoutMs: 5000 });
      return 'reachable';
    } catch (err) {
      if (err instanceof SwitchboardError && (err.status === 401 || err.status === 403)) return err;
      return 'unreachable';
    }
  }

  /** The socket failed before its hello; true if the subclass took over (e.g. long-poll). */
  _onOpenFailed(_info) {
    return false;
  }

  #startWatchdog(heartbeatSecs) {
    this.#stopWatchdog();
    this.#heartbeatMs = Math.max(1, Number(heartbeatSecs) || 20) * 1000;
    this.#lastHeard = Date.now();
    this.#watchdog = setInterval(() => {
      if (Date.now() - this.#lastHeard >= this.#heartbeatMs) this.ping();
    }, this.#heartbeatMs);
    this.#watchdog.unref?.();
  }

  #stopWatchdog() {
    clearInterval(this.#watchdog);
    this.#watchdog = null;
  }

  #stopSocket() {
    clearTimeout(this.#reconnectTimer);
    this.#reconnectTimer = null;
    this.#stopWatchdog();
    const ws = this.#ws;
    this.#ws = null;
    if (ws) {
      ws.onmessage = ws.onclose = ws.onerror = ws.onopen = null;
      try {
        ws.close(1000, 'client closed');
      } catch {
        /* already closing */
      }
    }
    this.#failRefs();
  }

  #shutdown(err) {
    this.#stopSocket();
    this.#unhookBrowser();
    this.outbox.close(err ?? clientError(CLIENT_CLOSED, 'the client was closed'));
    this._onShutdown();
  }

  _onShutdown() {}

  #resolveConnect() {
    for (const d of this.#connectWaiters.splice(0)) d.resolve();
  }

  #rejectConnect(err) {
    for (const d of this.#connectWaiters.splice(0)) d.reject(err);
  }

  #hookBrowser() {
    if (!this.watchBrowser || typeof window === 'undefined') return;
    const onOnline = () => {
      if (this.#state === 'reconnecting' || this.#state === 'offline') this._reconnectNow();
      else this.ping();
    };
    const onOffline = () => {
      if (this.#state === 'reconnecting') this._setState('offline');
    };
    const onVisible = () => {
      if (document.visibilityState === 'visible') onOnline();
    };
    window.addEventListener('online', onOnline);
    window.addEventListener('offline', onOffline);
    if (typeof document !== 'undefined') document.addEventListener('visibilitychange', onVisible);
    this.#browserHooks = { onOnline, onOffline, onVisible };
  }

  #unhookBrowser() {
    const h = this.#browserHooks;
    if (!h) return;
    this.#browserHooks = null;
    window.removeEventListener('online', h.onOnline);
    window.removeEventListener('offline', h.onOffline);
    if (typeof document !== 'undefined') document.removeEventListener('visibilitychange', h.onVisible);
  }
}
