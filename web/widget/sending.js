// The customer's messages on their way out: shown at once as "sending",
// remembered in storage until the log holds them, sent again with the same
// client token after a refresh (the server stores a client token once, so
// nothing is stored twice), and offered for retry when refused.

export class Sender {
  /**
   * @param {import('./messages.js').MessageLog} log
   * @param {import('./session.js').SessionStore} store
   */
  constructor(log, store) {
    this.log = log;
    this.store = store;
    this.chat = null;
  }

  setChat(chat) {
    this.chat = chat;
  }

  /** Sends a new message. */
  send(text) {
    const clientToken = newClientToken();
    this.store.addPending(clientToken, text);
    this.#deliver(text, clientToken);
  }

  /** Sends again what a previous page sent and the log does not hold yet. */
  resendPending() {
    for (const { clientToken, text } of this.store.loadPending()) {
      if (this.log.hasClientToken(clientToken)) this.store.removePending(clientToken);
      else this.#deliver(text, clientToken);
    }
  }

  /** An own message event arrived: it is stored, nothing to send again. */
  stored(clientToken) {
    this.store.removePending(clientToken);
  }

  #deliver(text, clientToken) {
    const chat = this.chat;
    this.log.addPending(text, clientToken);
    const attempt = () => {
      chat.send(text, { clientToken }).catch((err) => {
        if (err?.code === 'client_closed') return;
        if (err?.code === 'conversation_ended') this.store.removePending(clientToken);
        this.log.failPending(clientToken, sendErrorMessage(err), () => {
          this.log.retryPending(clientToken);
          attempt();
        });
      });
    };
    attempt();
  }
}

function newClientToken() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const bytes = crypto.getRandomValues(new Uint8Array(16)); // randomUUID needs a secure context
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}

function sendErrorMessage(err) {
  switch (err?.code) {
    case 'conversation_ended':
      return 'The chat has ended.';
    case 'rate_limited':
      return 'Too fast, try again in a moment.';
    case 'payload_too_large':
      return 'The message is too long.';
    default:
      return err?.message ?? 'Not sent.';
  }
}
