// The panel's status lines: the connection banner, the place in line, and
// who is typing. Each is a live region of its own (set up in frame.html).

const CONNECTION_TEXT = {
  reconnecting: 'Connection lost. Reconnecting…',
  offline: 'You are offline. Your messages will be sent when the connection is back.',
};

/** How long "… is typing" stays without a new typing notice, ms. */
const TYPING_SHOWN_MS = 6000;

export class StatusLines {
  constructor({ banner, queue, typing }) {
    this.banner = banner;
    this.queueLine = queue;
    this.typingLine = typing;
    this.typingTimer = null;
  }

  /** The SDK's connection state: a banner while it is not connected. */
  connection(state) {
    const text = CONNECTION_TEXT[state];
    this.banner.dataset.state = state;
    this.banner.textContent = text ?? '';
    this.banner.hidden = !text;
  }

  hideConnection() {
    this.banner.hidden = true;
  }

  /** Waiting for an agent, with the place in line and the wait when known. */
  queue(position = null, estimatedWaitSecs = null) {
    let text = 'Waiting for an agent…';
    if (Number.isFinite(position)) {
      text = position === 1 ? 'You are next in line.' : `You are number ${position} in line.`;
      if (Number.isFinite(estimatedWaitSecs)) text += ` Estimated wait: ${formatWait(estimatedWaitSecs)}.`;
    }
    this.queueLine.textContent = text;
    this.queueLine.hidden = false;
  }

  hideQueue() {
    this.queueLine.hidden = true;
  }

  /** "Ann is typing…" until the next message, or a few seconds without notice. */
  typing(name) {
    this.typingLine.textContent = `${name ?? 'The agent'} is typing…`;
    this.typingLine.hidden = false;
    clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(() => this.hideTyping(), TYPING_SHOWN_MS);
  }

  hideTyping() {
    clearTimeout(this.typingTimer);
    this.typingLine.hidden = true;
  }
}

/** "less than a minute", "about 3 minutes". */
export function formatWait(secs) {
  if (secs < 60) return 'less than a minute';
  const minutes = Math.round(secs / 60);
  return minutes === 1 ? 'about 1 minute' : `about ${minutes} minutes`;
}
