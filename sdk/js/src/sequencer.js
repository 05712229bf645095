// Delivers one conversation's log events exactly once, in seq order.
//
// - An event at or below the last delivered seq is a duplicate: dropped.
// - The next seq is delivered at once (synchronously, in the caller's turn).
// - A jump (seq > last + 1) may be a hole or a legitimate skip: the server
//   hides silent monitors' events from customers and agents, so their seqs
//   skip numbers. The transcript applies the same screen, so the sequencer
//   reads it for the range in between: whatever it returns is delivered
//   first; if it returns nothing, the skip was legitimate.
// - If that read fails, everything queued is dropped and `onUnfillable` is
//   called: the client reconnects and resumes after the last delivered seq,
//   so nothing is lost and nothing repeats.
//
// Long-poll answers are `trusted`: the server's cursor (`last_seq`) vouches
// that nothing visible lies in between, so they skip the transcript check.

export class Sequencer {
  #last;
  #queue = [];
  #draining = false;
  #idleWaiters = [];

  constructor({ lastSeq = 0, fill, deliver, onUnfillable }) {
    this.#last = Number(lastSeq) || 0;
    this.fill = fill;
    this.deliver = deliver;
    this.onUnfillable = onUnfillable;
  }

  /** The seq of the last event delivered (or skipped past): where to resume. */
  get lastSeq() {
    return this.#last;
  }

  get busy() {
    return this.#draining || this.#queue.length > 0;
  }

  push(event, { trusted = false } = {}) {
    this.#queue.push({ event, trusted });
    if (!this.#draining) this.#drain();
  }

  /** Moves the cursor past events the server screened out (after what is queued). */
  advanceTo(seq) {
    this.#queue.push({ advance: Number(seq) });
    if (!this.#draining) this.#drain();
  }

  /** Resolves when nothing is queued or being filled. */
  idle() {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Forgets what is queued (the stream it came from is gone). */
  clear() {
    this.#queue.length = 0;
  }

  async #drain() {
    this.#draining = true;
    try {
      while (this.#queue.length > 0) {
        const item = this.#queue.shift();
        if (item.advance !== undefined) {
          if (item.advance > this.#last) this.#last = item.advance;
          continue;
        }
        const ev = item.event;
        if (typeof ev?.seq !== 'number' || ev.seq <= this.#last) continue;
        if (!item.trusted && ev.seq > this.#last + 1) {
          let missing;
          try {
            missing = await this.fill(this.#last, ev.seq);
          } catch (err) {
            this.#queue.length = 0;
            this.onUnfillable?.(err);
            break;
          }
          for (const m of missing.sort((a, b) => a.seq - b.seq)) {
            if (m.seq > this.#last && m.seq < ev.seq) this.#deliverOne(m);
          }
          // The queue may have gained newer frames meanwhile; this one is still next.
        }
        if (ev.seq > this.#last) this.#deliverOne(ev);
      }
    } finally {
      this.#draining = false;
      const waiters = this.#idleWaiters.splice(0);
      for (const w of waiters) w();
    }
  }

  #deliverOne(ev) {
    this.#last = ev.seq;
    this.deliver(ev);
  }
}
