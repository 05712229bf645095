// A small typed-event emitter: on(type, fn) returns its own unsubscribe.
// A listener that throws does not stop the others (the error is reported
// with reportError / console.error, never swallowed silently).

export class Emitter {
  #listeners = new Map();

  on(type, fn) {
    if (typeof fn !== 'function') throw new TypeError('listener must be a function');
    let set = this.#listeners.get(type);
    if (!set) this.#listeners.set(type, (set = new Set()));
    // Wrapped, so the same function may be added twice and removed once each.
    const entry = { fn };
    set.add(entry);
    return () => set.delete(entry);
  }

  once(type, fn) {
    const off = this.on(type, (payload) => {
      off();
      fn(payload);
    });
    return off;
  }

  off(type, fn) {
    const set = this.#listeners.get(type);
    if (!set) return;
    for (const entry of set) {
      if (entry.fn === fn) {
        set.delete(entry);
        return;
      }
    }
  }

  emit(type, payload) {
    const set = this.#listeners.get(type);
    if (!set || set.size === 0) return;
    for (const entry of [...set]) {
      try {
        entry.fn(payload);
      } catch (err) {
        report(err);
      }
    }
  }

  listenerCount(type) {
    return this.#listeners.get(type)?.size ?? 0;
  }
}

function report(err) {
  if (typeof globalThis.reportError === 'function') globalThis.reportError(err);
  else console.error(err);
}
