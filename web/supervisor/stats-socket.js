// The supervisor socket: `/api/v1/stream?token=<workspace key>` pushes `stats`
// frames (queues and live chats) and `sla_breached` alerts. It reconnects with
// a growing, jittered delay and reports its state: connecting, open,
// reconnecting, or closed (signed out / stopped).

import { streamUrl } from '../shared/api.js';

const FIRST_DELAY_MS = 1000;
const MAX_DELAY_MS = 30000;

export class StatsSocket {
  /**
   * @param {string} token
   * @param {{ stats: (frame: object) => void, sla: (frame: object) => void,
   *           state: (state: string, detail?: string) => void,
   *           refused: () => Promise<boolean> }} handlers
   *   `refused` is asked after a socket failed to open: true if the key is no
   *   longer accepted (then no more attempts are made).
   */
  constructor(token, handlers) {
    this.token = token;
    this.handlers = handlers;
    this.socket = null;
    this.attempt = 0;
    this.timer = null;
    this.stopped = false;
  }

  start() {
    this.stopped = false;
    this.#open();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, 'signed out');
    this.handlers.state('closed');
  }

  #open() {
    this.handlers.state(this.attempt === 0 ? 'connecting' : 'reconnecting');
    const socket = new WebSocket(streamUrl(this.token));
    this.socket = socket;
    let opened = false;
    socket.addEventListener('open', () => { opened = true; });
    socket.addEventListener('message', (msg) => {
      if (socket !== this.socket) return;
      let frame;
      try { frame = JSON.parse(msg.data); } catch { return; }
      if (frame.type === 'hello') {
        this.attempt = 0;
        this.handlers.state('open');
      } else if (frame.type === 'stats') this.handlers.stats(frame);
      else if (frame.type === 'sla_breached') this.handlers.sla(frame);
    });
    socket.addEventListener('close', async () => {
      if (socket !== this.socket || this.stopped) return;
      this.socket = null;
      if (!opened && await this.handlers.refused()) return;
      this.#retry();
    });
  }

  #retry() {
    if (this.stopped) return;
    const base = Math.min(MAX_DELAY_MS, FIRST_DELAY_MS * 2 ** this.attempt);
    const delay = Math.round(base / 2 + Math.random() * (base / 2));
    this.attempt += 1;
    this.handlers.state('reconnecting', `retrying in ${Math.ceil(delay / 1000)} s`);
    this.timer = setTimeout(() => this.#open(), delay);
  }
}
