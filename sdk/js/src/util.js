// Small helpers shared by the clients.

export function randomToken() {
  const c = globalThis.crypto;
  if (c && typeof c.randomUUID === 'function') return c.randomUUID();
  // Fallback for old browsers on plain http (randomUUID needs a secure context).
  const bytes = new Uint8Array(16);
  c.getRandomValues(bytes);
  bytes[6] = (bytes[6] & 0x0f) | 0x40;
  bytes[8] = (bytes[8] & 0x3f) | 0x80;
  const hex = [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** Exponential backoff with jitter: attempt 0 → [d/2, d], growing by `factor` up to `maxDelayMs`. */
export function backoffDelay(attempt, { initialDelayMs = 500, maxDelayMs = 15000, factor = 2 } = {}) {
  const ceiling = Math.min(maxDelayMs, initialDelayMs * factor ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** A promise with its resolve/reject exposed. */
export function deferred() {
  let resolve, reject;
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** The page's origin in a browser, else nothing. */
export function defaultBaseUrl() {
  const loc = globalThis.location;
  return loc && typeof loc.origin === 'string' && loc.origin !== 'null' ? loc.origin : undefined;
}

export function trimSlash(url) {
  return String(url).replace(/\/+$/, '');
}

/** `http(s)://host` → `ws(s)://host`. */
export function toWebSocketUrl(baseUrl) {
  return trimSlash(baseUrl).replace(/^http(s?):/i, 'ws$1:');
}

export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** `{seq, id, at}` from an ack frame (`result` on agent sockets) or a stored event. */
export function toAck(x) {
  const r = x?.result && typeof x.result === 'object' ? x.result : x;
  return { seq: r.seq, id: r.id, at: r.at };
}

/** Calls `fn` again (same arguments, so the same client token) while it fails transiently. */
export async function retrying(fn, isClosed, isTransient, attempts = 6) {
  for (let i = 0; ; i++) {
    try {
      return await fn();
    } catch (err) {
      if (!isTransient(err) || i + 1 >= attempts || isClosed()) throw err;
      await sleep(backoffDelay(i));
    }
  }
}
