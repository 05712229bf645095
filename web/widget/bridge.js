// The frame's side of the postMessage channel with the loader in the host page.
//
// The frame does not know the host's origin in advance: it announces itself
// to its parent ('ready', which carries nothing private), and the first
// 'init' that comes back from the parent window fixes the host origin. From
// then on messages go only to that origin, and only messages from the parent
// window and that origin are heard.

const CHANNEL = 'switchboard-widget';

export class HostBridge {
  constructor() {
    this.embedded = window.parent !== window;
    this.hostOrigin = null;
    this.visible = !this.embedded; // opened on its own, the frame is the page
    this.handlers = new Map();
    this.outbox = [];
    window.addEventListener('message', (event) => this.#receive(event));
  }

  /** Announces the frame to the loader. */
  start() {
    if (this.embedded) window.parent.postMessage({ channel: CHANNEL, type: 'ready' }, '*');
  }

  /** Registers a handler for a message type from the loader ('visibility', 'init'). */
  on(type, handler) {
    this.handlers.set(type, handler);
  }

  /** Sends a message to the loader (held until the host origin is known). */
  send(type, data = {}) {
    if (!this.embedded) return;
    const message = { channel: CHANNEL, type, ...data };
    if (this.hostOrigin) window.parent.postMessage(message, this.hostOrigin);
    else this.outbox.push(message);
  }

  #receive(event) {
    if (!this.embedded || event.source !== window.parent) return;
    const data = event.data;
    if (!data || data.channel !== CHANNEL || typeof data.type !== 'string') return;
    if (this.hostOrigin === null) {
      if (data.type !== 'init' || !isPlausibleOrigin(event.origin)) return;
      this.hostOrigin = event.origin;
      for (const message of this.outbox.splice(0)) window.parent.postMessage(message, this.hostOrigin);
    } else if (event.origin !== this.hostOrigin) {
      return;
    }
    if (data.type === 'init' || data.type === 'visibility') this.visible = Boolean(data.visible);
    this.handlers.get(data.type)?.(data);
  }
}

function isPlausibleOrigin(origin) {
  if (!origin || origin === 'null') return false;
  // Where the browser tells the embedding origin, it must agree.
  const ancestors = window.location.ancestorOrigins;
  if (ancestors && ancestors.length > 0 && ancestors[0] !== origin) return false;
  return true;
}
