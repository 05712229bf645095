// REST calls to /api/v1 with a bearer token; every failure is a SwitchboardError.

import { SwitchboardError, NETWORK_ERROR, CLIENT_TIMEOUT } from './errors.js';
import { trimSlash } from './util.js';

export class Http {
  constructor({ baseUrl, token = null, fetch: fetchFn, timeoutMs = 15000 }) {
    if (!baseUrl) throw new TypeError('baseUrl is required (outside a browser page)');
    this.baseUrl = trimSlash(baseUrl);
    this.token = token;
    this.fetch = fetchFn || globalThis.fetch?.bind(globalThis);
    if (!this.fetch) throw new TypeError('no fetch available: pass one in the options');
    this.timeoutMs = timeoutMs;
  }

  /** `path` is under /api/v1 (`/conversations/…`), or absolute (`/readyz`, `http://…`). */
  url(path) {
    if (/^https?:/i.test(path)) return path;
    return path.startsWith('/api/') || path === '/readyz' || path === '/healthz'
      ? this.baseUrl + path
      : `${this.baseUrl}/api/v1${path}`;
  }

  /**
   * Sends a request; resolves with the parsed JSON body (or null for 204).
   * `timeoutMs` overrides the default (long-polls wait longer); `signal` aborts.
   */
  async request(method, path, body, { timeoutMs = this.timeoutMs, signal, auth = true } = {}) {
    const headers = { accept: 'application/json' };
    if (auth && this.token) headers.authorization = `Bearer ${this.token}`;
    const init = { method, headers };
    if (body !== undefined) {
      headers['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const ctrl = new AbortController();
    const timer = setTimeout(() => ctrl.abort(), timeoutMs);
    const onAbort = () => ctrl.abort();
    signal?.addEventListener('abort', onAbort, { once: true });
    init.signal = ctrl.signal;
    let res;
    try {
      res = await this.fetch(this.url(path), init);
    } catch (err) {
      if (signal?.aborted) throw new SwitchboardError({ code: 'aborted', message: 'request aborted' });
      if (ctrl.signal.aborted) throw new SwitchboardError({ code: CLIENT_TIMEOUT, message: `${method} ${path}: no answer in ${timeoutMs} ms` });
      throw new SwitchboardError({ code: NETWORK_ERROR, message: `${method} ${path}: ${err?.message || err}` });
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    return readBody(res);
  }
}

/** Parses a fetch Response: JSON on success, SwitchboardError otherwise. */
export async function readBody(res) {
  if (res.status === 204) return null;
  let text = '';
  try {
    text = await res.text();
  } catch (err) {
    throw new SwitchboardError({ code: NETWORK_ERROR, message: `reading the answer: ${err?.message || err}`, status: res.status });
  }
  let json = null;
  if (text) {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (res.ok) return json;
  const err = SwitchboardError.fromBody(json, res.status);
  if (err.retryAfterSecs == null) {
    const header = Number(res.headers?.get?.('retry-after'));
    if (Number.isFinite(header) && header >= 0 && err.code === 'rate_limited') err.retryAfterSecs = header;
  }
  throw err;
}

/** Whether an error means "try again later" rather than "refused". */
export function isTransient(err) {
  return err instanceof SwitchboardError && (err.code === NETWORK_ERROR || err.code === CLIENT_TIMEOUT || (err.status != null && err.status >= 500 && err.status !== 501));
}
