// The message list: every log event the customer sees, once, in seq order;
// the customer's own messages from "sending" to "sent", "delivered", "read";
// notices (an agent joined, left, idle warnings, the end).
//
// The list is the chat's `role="log"` live region. Own messages not yet
// stored ("pending") stay at the bottom; stored events go in above them.

import { h } from '/assets/shared/dom.js';
import { renderMessageBody, formatTime } from '/assets/shared/message-body.js';

const STATUS_ORDER = ['failed', 'sending', 'sent', 'delivered', 'read'];
const STATUS_TEXT = { failed: 'Not sent', sending: 'Sending…', sent: 'Sent', delivered: 'Delivered', read: 'Read' };

export class MessageLog {
  constructor(root) {
    this.root = root;
    this.reset();
  }

  /** Empties the list for a new chat. */
  reset(selfId = null) {
    this.root.replaceChildren();
    this.selfId = selfId;
    this.seqs = new Set();
    this.participants = new Map();
    this.pending = new Map(); // client token → element
    this.ownByEventId = new Map(); // event id → element of an own stored message
    this.ownClientTokens = new Set(); // client tokens of own stored messages
    this.receiptsSent = { delivered: new Set(), read: new Set() };
    this.lastAuthor = null;
  }

  setSelf(id) {
    this.selfId = id;
  }

  /** Whether an own message with this client token is in the log. */
  hasClientToken(clientToken) {
    return this.ownClientTokens.has(clientToken);
  }

  /** Display name of a participant seen in the log. */
  nameOf(participantId) {
    return this.participants.get(participantId)?.name ?? null;
  }

  /** Role of a participant seen in the log ('agent', 'customer', …). */
  roleOf(participantId) {
    return this.participants.get(participantId)?.role ?? null;
  }

  /**
   * Renders one log event; returns false for a seq already shown (a replay)
   * so callers can skip their own side effects too.
   */
  add(event) {
    if (this.seqs.has(event.seq)) return false;
    this.seqs.add(event.seq);
    switch (event.type) {
      case 'message':
        this.#message(event);
        break;
      case 'message.delivered':
      case 'message.read':
        this.#receipt(event);
        break;
      case 'participant.joined':
        this.participants.set(event.member_id, { role: event.role, name: event.display_name || defaultName(event.role) });
        if (event.member_id !== this.selfId) this.notice(event, `${this.nameOf(event.member_id)} joined the chat`);
        break;
      case 'participant.left':
        if (event.member_id !== this.selfId) this.notice(event, `${this.nameOf(event.member_id) ?? 'The agent'} left the chat`);
        break;
      case 'participant.idle':
        if (event.member_id === this.selfId) {
          this.notice(event, 'Are you still there? This chat will close soon if you do not reply.', 'warning', 'idle-warning');
        }
        break;
      case 'participant.autodisconnection':
        if (event.member_id === this.selfId) {
          this.notice(event, 'You were disconnected because the chat was inactive.', 'warning', 'autodisconnected');
        }
        break;
      case 'conversation.transferred':
        this.notice(event, 'You are being transferred. Please stay in the chat.');
        break;
      case 'conversation.overflowed':
        if (event.text) this.notice(event, event.text);
        break;
      case 'conversation.ended':
        this.notice(event, 'The chat has ended.', 'ended', 'ended-notice');
        break;
      default:
        break; // conversation.created, conversation.queued, attachments and forms are shown by their modules
    }
    return true;
  }

  /** Inserts a rendered event's element in seq order, above pending messages. */
  insert(event, node) {
    node.dataset.seq = String(event.seq);
    if (event.id) node.dataset.eventId = event.id;
    const firstPending = this.root.querySelector(':scope > .pending');
    // A confirmed own message usually sits where it belongs already; moving
    // it anyway would make screen readers announce it a second time.
    const inPlace = node.parentNode === this.root && node.nextElementSibling === firstPending;
    if (!inPlace) this.root.insertBefore(node, firstPending);
    this.#scroll();
    return node;
  }

  /** A system line in the log. */
  notice(event, text, tone = 'info', testid = 'notice') {
    this.lastAuthor = null;
    return this.insert(event, h('div', { class: `notice ${tone}`, 'data-testid': testid }, text));
  }

  /** A system line that belongs to no log event (e.g. the chat was erased). */
  note(text, tone = 'info', testid = 'notice') {
    this.lastAuthor = null;
    const node = h('div', { class: `notice ${tone}`, 'data-testid': testid }, text);
    this.root.insertBefore(node, this.root.querySelector(':scope > .pending'));
    this.#scroll();
    return node;
  }

  /** Shows a message the customer is sending (before the server has stored it). */
  addPending(content, clientToken) {
    const node = this.#bubble({ mine: true, author: null, body: h('div', { class: 'body' }, content) });
    node.classList.add('pending');
    node.dataset.clientToken = clientToken;
    this.#setStatus(node, 'sending', true);
    this.pending.set(clientToken, node);
    this.root.append(node);
    this.lastAuthor = null;
    this.#scroll();
    return node;
  }

  /** The send was refused; `retry` is offered on the message. */
  failPending(clientToken, message, retry) {
    const node = this.pending.get(clientToken);
    if (!node) return;
    this.#setStatus(node, 'failed', true);
    const meta = node.querySelector('.meta');
    meta.querySelector('.retry')?.remove();
    meta.querySelector('.error')?.remove();
    meta.append(
      h('span', { class: 'error' }, message),
      h('button', { type: 'button', class: 'link retry', 'data-testid': 'retry', on: { click: retry } }, 'Retry'),
    );
  }

  /** The send is being tried again. */
  retryPending(clientToken) {
    const node = this.pending.get(clientToken);
    if (!node) return;
    node.querySelector('.meta .retry')?.remove();
    node.querySelector('.meta .error')?.remove();
    this.#setStatus(node, 'sending', true);
  }

  /**
   * The newest message from the others not yet marked read, or null. A read
   * receipt for it stands for the ones before, so only that one is sent.
   */
  newestUnreadFromOthers() {
    const nodes = this.root.querySelectorAll(':scope > .msg.theirs:not(.attachment)[data-event-id]');
    const newest = nodes[nodes.length - 1];
    if (!newest || this.receiptsSent.read.has(newest.dataset.eventId)) return null;
    for (const node of nodes) this.receiptsSent.read.add(node.dataset.eventId);
    return newest.dataset.eventId;
  }

  #message(event) {
    const mine = event.participant_id !== null && event.participant_id === this.selfId;
    if (mine && event.client_token) this.ownClientTokens.add(event.client_token);
    const pending = mine && event.client_token ? this.pending.get(event.client_token) : null;
    if (pending) {
      this.pending.delete(event.client_token);
      pending.classList.remove('pending');
      pending.querySelector('.meta .retry')?.remove();
      pending.querySelector('.meta .error')?.remove();
      renderMessageBody(pending.querySelector('.body'), event);
      this.#setTime(pending, event.at);
      this.#setStatus(pending, 'sent', true);
      this.ownByEventId.set(event.id, pending);
      this.insert(event, pending);
      return;
    }
    const author = mine ? null : event.participant_id;
    const role = author ? this.roleOf(author) : 'system';
    const node = this.#bubble({
      mine,
      author: mine || author === this.lastAuthor ? null : (author ? this.nameOf(author) : null),
      body: renderMessageBody(h('div', { class: 'body' }), event),
      role,
    });
    this.#setTime(node, event.at);
    if (mine) {
      this.#setStatus(node, 'sent', true);
      this.ownByEventId.set(event.id, node);
    }
    this.lastAuthor = mine ? this.selfId : author;
    this.insert(event, node);
  }

  #receipt(event) {
    const kind = event.type === 'message.read' ? 'read' : 'delivered';
    if (event.participant_id === this.selfId) {
      this.receiptsSent[kind].add(event.message_id);
      if (kind === 'read') this.receiptsSent.delivered.add(event.message_id);
      return;
    }
    const node = this.ownByEventId.get(event.message_id);
    if (node) this.#setStatus(node, kind);
  }

  #bubble({ mine, author, body, role = null }) {
    const classes = ['msg', mine ? 'mine' : 'theirs'];
    if (role === 'system') classes.push('bot');
    return h(
      'div',
      { class: classes.join(' '), 'data-testid': mine ? 'message-mine' : 'message-theirs' },
      author ? h('div', { class: 'author' }, author) : null,
      h('div', { class: 'bubble' }, body),
      h('div', { class: 'meta' }, h('time', { class: 'time' }), mine ? h('span', { class: 'status', 'data-testid': 'message-status' }) : null),
    );
  }

  #setTime(node, at) {
    const time = node.querySelector('.meta time');
    time.dateTime = at;
    time.textContent = formatTime(at);
  }

  /** Moves a message's status forward (never back, unless `force`). */
  #setStatus(node, status, force = false) {
    const current = node.dataset.status;
    if (!force && current && STATUS_ORDER.indexOf(status) <= STATUS_ORDER.indexOf(current)) return;
    node.dataset.status = status;
    const label = node.querySelector('.meta .status');
    if (label) label.textContent = STATUS_TEXT[status];
  }

  #scroll() {
    this.root.scrollTop = this.root.scrollHeight;
  }
}

function defaultName(role) {
  return role === 'agent' ? 'An agent' : role === 'supervisor' ? 'A supervisor' : 'Someone';
}
