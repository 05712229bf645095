// One chat as the console knows it: its log (by seq, each event once), who is
// in it, what the agent has read, what the customer has received and read, who
// is typing, and the chat's lifecycle (active → ended/released → closed).
// No DOM here: views read this state and redraw.

export class ChatState {
  constructor(conversationId) {
    this.id = conversationId;
    this.conversation = null;        // GET /conversations/{id}
    this.participants = new Map();   // participant id → {id, role, display_name, agent_id}
    this.events = new Map();         // seq → event
    this.byId = new Map();           // event id → event
    this.myParticipantIds = new Set();
    this.lastReadSeq = 0;            // newest customer message the agent has read
    this.readSent = 0;               // newest seq a read receipt was sent for
    this.customerReadSeq = 0;        // newest agent message the customer read
    this.customerDeliveredSeq = 0;   // … and received
    this.oldestLoaded = Infinity;    // lowest seq held (for paging upward)
    this.typing = null;              // {participantId, text, until}
    this.draft = '';
    this.draftMarkdown = false;      // the draft started from a canned response
    this.status = 'active';          // 'active' | 'ended' | 'released'
    this.flowRuns = new Map();       // run id → {runId, flow, state, step, vars}
    this.pending = new Map();        // client token → {clientToken, text}: sends not stored yet
  }

  /** How many messages are held. */
  messageCount() {
    let n = 0;
    for (const e of this.events.values()) if (e.type === 'message') n += 1;
    return n;
  }

  /** Adds an event (a repeat of a known seq is ignored). Returns true if new. */
  ingest(event) {
    if (this.events.has(event.seq)) return false;
    this.events.set(event.seq, event);
    this.byId.set(event.id, event);
    this.oldestLoaded = Math.min(this.oldestLoaded, event.seq);
    this.#apply(event);
    return true;
  }

  #apply(event) {
    switch (event.type) {
      case 'participant.joined':
        this.participants.set(event.member_id, {
          ...(this.participants.get(event.member_id) || {}),
          id: event.member_id, role: event.role, display_name: event.display_name,
        });
        break;
      case 'participant.left': {
        const p = this.participants.get(event.member_id);
        if (p) p.left = true;
        break;
      }
      case 'message':
        if (this.typing && this.typing.participantId === event.participant_id) this.typing = null;
        if (event.client_token) this.pending.delete(event.client_token);
        break;
      case 'message.read':
      case 'message.delivered':
        this.#applyReceipt(event);
        break;
      case 'conversation.ended':
        this.status = 'ended';
        this.typing = null;
        break;
      case 'conversation.updated':
        if (this.conversation) {
          if (event.attributes) this.conversation.attributes = event.attributes;
          if ('record_id' in event) this.conversation.record_id = event.record_id;
        }
        break;
      default:
    }
  }

  #applyReceipt(event) {
    const target = this.byId.get(event.message_id);
    if (!target) return;
    const read = event.type === 'message.read';
    if (this.myParticipantIds.has(event.participant_id)) {
      if (read) this.lastReadSeq = Math.max(this.lastReadSeq, target.seq);
      return;
    }
    if (this.roleOf(event.participant_id) !== 'customer') return;
    if (read) this.customerReadSeq = Math.max(this.customerReadSeq, target.seq);
    this.customerDeliveredSeq = Math.max(this.customerDeliveredSeq, target.seq);
  }

  /** Receipts may arrive before the message they name (history loaded later):
   * replay them once more events are known. */
  replayReceipts() {
    for (const event of this.events.values()) {
      if (event.type === 'message.read' || event.type === 'message.delivered') this.#applyReceipt(event);
    }
  }

  /** Records which participant ids are this agent's (from the participant list). */
  setParticipants(list, agentId) {
    for (const p of list) {
      this.participants.set(p.id, { ...(this.participants.get(p.id) || {}), ...p, left: Boolean(p.left_at) });
      if (agentId && p.agent_id === agentId) this.myParticipantIds.add(p.id);
    }
    this.replayReceipts();
  }

  roleOf(participantId) {
    if (!participantId) return 'system';
    return this.participants.get(participantId)?.role || 'unknown';
  }

  nameOf(participantId) {
    if (this.myParticipantIds.has(participantId)) return 'You';
    if (!participantId) return 'System';
    const p = this.participants.get(participantId);
    return p?.display_name || (p?.role === 'customer' ? 'Customer' : p?.role) || 'Someone';
  }

  isMine(event) {
    return this.myParticipantIds.has(event.participant_id);
  }

  isCustomerMessage(event) {
    return event.type === 'message' && this.roleOf(event.participant_id) === 'customer';
  }

  /** Events in seq order. */
  ordered() {
    return [...this.events.values()].sort((a, b) => a.seq - b.seq);
  }

  /** Customer messages after the newest one the agent has read. */
  unreadCount() {
    let n = 0;
    for (const e of this.events.values()) if (e.seq > this.lastReadSeq && this.isCustomerMessage(e)) n += 1;
    return n;
  }

  /** The newest customer message not yet covered by a read receipt, if any. */
  messageToMarkRead() {
    let newest = null;
    for (const e of this.events.values()) {
      if (this.isCustomerMessage(e) && (!newest || e.seq > newest.seq)) newest = e;
    }
    if (!newest || newest.seq <= Math.max(this.lastReadSeq, this.readSent)) return null;
    return newest;
  }

  /** 'read' | 'delivered' | 'sent' for one of the agent's messages. */
  deliveryOf(event) {
    if (event.seq <= this.customerReadSeq) return 'read';
    if (event.seq <= this.customerDeliveredSeq) return 'delivered';
    return 'sent';
  }

  customer() {
    for (const p of this.participants.values()) if (p.role === 'customer') return p;
    return null;
  }

  title() {
    return this.customer()?.display_name || this.conversation?.attributes?.display_name || 'Customer';
  }

  lastMessage() {
    let last = null;
    for (const e of this.events.values()) if (e.type === 'message' && (!last || e.seq > last.seq)) last = e;
    return last;
  }

  /** Whether a typing notice is still current. */
  typingNow(now = Date.now()) {
    return this.typing && this.typing.until > now ? this.typing : null;
  }
}
