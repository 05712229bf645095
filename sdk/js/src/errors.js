// SwitchboardError: every failure the SDK reports, whether the server refused
// something (its error body or an `error` frame) or the SDK itself gave up.

export class SwitchboardError extends Error {
  constructor({ code, message, field = null, status = null, retryAfterSecs = null }) {
    super(message || code);
    this.name = 'SwitchboardError';
    this.code = code;
    this.field = field ?? null;
    this.status = status ?? null;
    this.retryAfterSecs = retryAfterSecs ?? null;
  }

  /** From the server's `{"error": {code, message, field}}` body (or its inner object). */
  static fromBody(body, status = null) {
    const e = body && typeof body === 'object' && body.error && typeof body.error === 'object' ? body.error : body;
    if (!e || typeof e !== 'object' || typeof e.code !== 'string') {
      return new SwitchboardError({ code: 'unexpected_response', message: `unexpected answer (HTTP ${status})`, status });
    }
    const retry = e.retry_after_secs ?? body.retry_after_secs ?? null;
    return new SwitchboardError({ code: e.code, message: e.message, field: e.field, status, retryAfterSecs: retry });
  }
}

/** The SDK's own codes. */
export const CLIENT_CLOSED = 'client_closed';
export const NETWORK_ERROR = 'network_error';
export const CLIENT_TIMEOUT = 'client_timeout';
export const CLIENT_TRANSPORT = 'client_transport';

export function clientError(code, message) {
  return new SwitchboardError({ code, message });
}
