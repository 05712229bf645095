// A small REST client for the pages signed in with a bearer token (the
// supervisor view and the admin pages; created by them). Every failure is an
// ApiError carrying the server's `{code, message, field, errors}` so forms can
// show it at the field, and `line`/`column` when the message names them (YAML).

export class ApiError extends Error {
  constructor({ status = 0, code = 'unexpected_response', message, field = null, errors = [] }) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.field = field;
    this.errors = errors;
    const where = sourcePosition(this.message);
    this.line = where?.line ?? null;
    this.column = where?.column ?? null;
  }
}

/** `{line, column}` from a message such as "line 6, column 9: unknown field". */
export function sourcePosition(message) {
  const m = /\bline (\d+)(?:, column (\d+))?/.exec(String(message || ''));
  return m ? { line: Number(m[1]), column: m[2] ? Number(m[2]) : null } : null;
}

export class RestClient {
  /** @param {{token: string, baseUrl?: string, onUnauthorized?: () => void}} opts */
  constructor({ token, baseUrl = location.origin, onUnauthorized = () => {} }) {
    this.token = token;
    this.baseUrl = baseUrl;
    this.onUnauthorized = onUnauthorized;
  }

  get(path) { return this.request('GET', path); }
  post(path, body, opts) { return this.request('POST', path, body, opts); }
  put(path, body, opts) { return this.request('PUT', path, body, opts); }
  patch(path, body) { return this.request('PATCH', path, body); }
  delete(path) { return this.request('DELETE', path); }

  /**
   * A call under /api/v1. Objects go as JSON, strings as `contentType`
   * (e.g. application/yaml). Resolves with the parsed body (null when empty).
   */
  async request(method, path, body, { contentType } = {}) {
    const headers = { authorization: `Bearer ${this.token}` };
    let payload;
    if (body !== undefined) {
      const isText = typeof body === 'string';
      headers['content-type'] = contentType || (isText ? 'text/plain' : 'application/json');
      payload = isText ? body : JSON.stringify(body);
    }
    let res;
    try {
      res = await fetch(`${this.baseUrl}/api/v1${path}`, { method, headers, body: payload });
    } catch {
      throw new ApiError({ code: 'network_error', message: 'The server cannot be reached.' });
    }
    const text = await res.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch { parsed = null; }
    if (res.ok) return parsed;
    if (res.status === 401) this.onUnauthorized();
    const e = parsed?.error;
    throw new ApiError({
      status: res.status,
      code: e?.code || `http_${res.status}`,
      message: e?.message || `The server answered ${res.status}.`,
      field: e?.field ?? null,
      errors: Array.isArray(e?.errors) ? e.errors : [],
    });
  }
}

/** The WebSocket address of the stream for a token. */
export function streamUrl(token, baseUrl = location.origin) {
  const url = new URL('/api/v1/stream', baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.searchParams.set('token', token);
  return url.href;
}
