// The ordered queue of things to send (messages). One item is in flight at a
// time, so the server logs them in the order they were made, whatever
// happens to the connection in between. An item that loses its connection
// before its answer is sent again, with the same client token, once the
// client is connected again (the server stores a token once and answers a
// retry with the first result). `rate_limited` waits `retry_after_secs` and
// tries again; any other refusal rejects that item alone.

import { SwitchboardError, CLIENT_CLOSED } from './errors.js';
import { deferred } from './util.js';

/** Thrown by a deliver function when the connection went away before an answer. */
export class ConnectionLost extends Error {
  constructor(message = 'connection lost') {
    super(message);
    this.name = 'ConnectionLost';
  }
}

export class Outbox {
  #queue = [];
  #running = false;
  #closed = false;
  #closeError = null;
  #timer = null;

  /**
   * deliver(item) → Promise<result>: throws ConnectionLost to retry later, a
   * SwitchboardError to refuse. isReady() says whether delivering may start.
   * onLost() is told when an item lost its connection (to reconnect, or to
   * plan a retry).
   */
  constructor({ deliver, isReady, onLost = () => {} }) {
    this.deliver = deliver;
    this.isReady = isReady;
    this.onLost = onLost;
  }

  get size() {
    return this.#queue.length;
  }

  enqueue(item) {
    if (this.#closed) return Promise.reject(this.#closeError);
    const d = deferred();
    this.#queue.push({ ...item, resolve: d.resolve, reject: d.reject });
    this.wake();
    return d.promise;
  }

  /** Starts delivering if it can (call when the connection comes up). */
  wake() {
    if (!this.#running && !this.#closed && this.#queue.length > 0 && this.isReady()) this.#run();
  }

  /** Rejects everything waiting and refuses what comes later. */
  close(err = new SwitchboardError({ code: CLIENT_CLOSED, message: 'the client is closed' })) {
    this.#closed = true;
    this.#closeError = err;
    clearTimeout(this.#timer);
    for (const item of this.#queue.splice(0)) item.reject(err);
  }

  async #run() {
    this.#running = true;
    try {
      while (!this.#closed && this.#queue.length > 0 && this.isReady()) {
        const item = this.#queue[0];
        let result;
        try {
          result = await this.deliver(item);
        } catch (err) {
          if (this.#closed) return;
          if (err instanceof ConnectionLost) {
            this.onLost(err);
            return;
          }
          if (err instanceof SwitchboardError && (err.code === 'rate_limited' || err.code === 'unavailable')) {
            const ms = Math.max(0.05, err.retryAfterSecs ?? 1) * 1000;
            this.#timer = setTimeout(() => this.wake(), ms);
            return;
          }
          this.#queue.shift();
          item.reject(err);
          continue;
        }
        this.#queue.shift();
        item.resolve(result);
      }
    } finally {
      this.#running = false;
    }
  }
}
