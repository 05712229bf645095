// Helpers for the SDK tests: wait for an emitter's event, collect events.

/** Resolves with the first `type` payload that passes `predicate`; rejects after `timeoutMs`. */
export function waitFor(emitter, type, predicate = () => true, timeoutMs = 10_000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out after ${timeoutMs} ms waiting for '${type}'`));
    }, timeoutMs);
    const off = emitter.on(type, (payload) => {
      let ok;
      try {
        ok = predicate(payload);
      } catch (err) {
        clearTimeout(timer);
        off();
        reject(err);
        return;
      }
      if (ok) {
        clearTimeout(timer);
        off();
        resolve(payload);
      }
    });
  });
}

/** Records every payload of `type`. */
export function collect(emitter, type) {
  const list = [];
  emitter.on(type, (p) => list.push(p));
  return list;
}

/** Asserts seqs strictly increase (each once, in order). */
export function assertOrdered(assert, events) {
  for (let i = 1; i < events.length; i++) {
    assert.ok(events[i].seq > events[i - 1].seq, `seq ${events[i].seq} after ${events[i - 1].seq}`);
  }
}

/**
 * A WebSocket class that records its instances, so a test can cut a
 * connection the way a network does (the client did not ask for it), drop
 * incoming frames (`dropIncoming(frame, socket) → true`), or refuse new opens
 * (`control.blocked = true`: each open fails as an unreachable socket does).
 */
export function recordingWebSocket() {
  const Base = globalThis.WebSocket;
  const control = { sockets: [], blocked: false, dropIncoming: null, onSend: null };
  class Recording extends Base {
    constructor(url, protocols) {
      super(control.blocked ? 'ws://127.0.0.1:9/blocked' : url, protocols);
      this.sentFrames = [];
      control.sockets.push(this);
    }
    send(data) {
      this.sentFrames.push(JSON.parse(data));
      super.send(data);
      control.onSend?.(JSON.parse(data), this);
    }
    set onmessage(fn) {
      super.onmessage = fn
        ? (m) => {
            if (control.dropIncoming?.(JSON.parse(m.data), this)) return;
            fn(m);
          }
        : null;
    }
    get onmessage() {
      return super.onmessage;
    }
  }
  control.WebSocket = Recording;
  return control;
}

/** A fetch that counts requests whose URL matches. */
export function countingFetch(pattern) {
  const counter = { count: 0 };
  counter.fetch = (url, init) => {
    if (pattern.test(String(url))) counter.count++;
    return fetch(url, init);
  };
  return counter;
}

/** Blocks WebSockets entirely: every open fails (as behind a proxy that refuses upgrades). */
export class BlockedWebSocket {
  constructor() {
    this.readyState = 3;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    queueMicrotask(() => {
      this.onerror?.({});
      this.onclose?.({ code: 1006, reason: '' });
    });
  }
  send() {
    throw new Error('not open');
  }
  close() {}
}

// ------------------------------------------------------------ the helpers' own test

if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  const { test } = await import('node:test');
  const assert = (await import('node:assert/strict')).default;
  const { Emitter } = await import('../src/emitter.js');
  test('waitFor resolves with the first matching payload and rejects when none comes in time', async () => {
    const e = new Emitter();
    const got = waitFor(e, 'n', (x) => x > 1, 1000);
    e.emit('n', 1);
    e.emit('n', 2);
    e.emit('n', 3);
    assert.equal(await got, 2);
    assert.equal(e.listenerCount('n'), 0, 'it unsubscribes');
    await assert.rejects(waitFor(e, 'never', () => true, 20), /timed out/);
    assert.equal(e.listenerCount('never'), 0);
  });
}
