// What the frame keeps in its localStorage, per entry point: the SDK's
// snapshot of the current chat (to resume it after a refresh) and the draft.

const PREFIX = 'switchboard-widget';

export class SessionStore {
  constructor(entryPointId) {
    this.chatKey = `${PREFIX}:chat:${entryPointId}`;
    this.draftKey = `${PREFIX}:draft:${entryPointId}`;
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
