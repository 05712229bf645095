// What the frame keeps in its localStorage, per entry point: the SDK's
// snapshot of the current chat (to resume it after a refresh), the draft, and
// the messages sent but not yet stored (sent again, with the same client
// token, after a refresh: the server stores a client token once), and the
// last ended chat, which the next chat continues (persistent chat).

const PREFIX = 'switchboard-widget';

export class SessionStore {
  constructor(entryPointId) {
    this.chatKey = `${PREFIX}:chat:${entryPointId}`;
    this.draftKey = `${PREFIX}:draft:${entryPointId}`;
    this.pendingKey = `${PREFIX}:pending:${entryPointId}`;
    this.previousKey = `${PREFIX}:previous:${entryPointId}`;
  }

  /** The customer's last ended chat `{token, conversationId}`: a new chat continues it. */
  loadPrevious() {
    const previous = read(this.previousKey);
    return typeof previous?.token === 'string' && typeof previous?.conversationId === 'string' ? previous : null;
  }

  savePrevious(token, conversationId) {
    write(this.previousKey, { token, conversationId });
  }

  /** The stored snapshot `{baseUrl, token, conversationId, lastSeq}`, or null. */
  load() {
    const snapshot = read(this.chatKey);
    if (!snapshot || typeof snapshot.token !== 'string' || typeof snapshot.conversationId !== 'string') return null;
    return { ...snapshot, lastSeq: Number(snapshot.lastSeq) || 0 };
  }

  save(snapshot) {
    write(this.chatKey, snapshot);
  }

  clear() {
    remove(this.chatKey);
    remove(this.draftKey);
    remove(this.pendingKey);
  }

  /** Messages sent but not yet seen stored: `[{clientToken, text}]`, oldest first. */
  loadPending() {
    const list = read(this.pendingKey);
    return Array.isArray(list) ? list.filter((m) => typeof m?.clientToken === 'string' && typeof m?.text === 'string') : [];
  }

  addPending(clientToken, text) {
    write(this.pendingKey, [...this.loadPending(), { clientToken, text }]);
  }

  removePending(clientToken) {
    const rest = this.loadPending().filter((m) => m.clientToken !== clientToken);
    if (rest.length > 0) write(this.pendingKey, rest);
    else remove(this.pendingKey);
  }

  loadDraft() {
    const draft = read(this.draftKey);
    return typeof draft === 'string' ? draft : '';
  }

  saveDraft(text) {
    if (text) write(this.draftKey, text);
    else remove(this.draftKey);
  }
}

function read(key) {
  try {
    const raw = localStorage.getItem(key);
    return raw === null ? null : JSON.parse(raw);
  } catch {
    return null;
  }
}

function write(key, value) {
  try {
    localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // storage full or blocked: the chat goes on, it just will not survive a refresh
  }
}

function remove(key) {
  try {
    localStorage.removeItem(key);
  } catch {
    // ignore
  }
}
