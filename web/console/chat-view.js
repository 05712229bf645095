// The open chat: its transcript (paged upward on demand), the typing line with
// the customer's sneak peek, the ended / transferred banner and the actions'
// availability.

import { renderEvent, updateDelivery } from './event-view.js';
import { el } from '../shared/message-body.js';

export class ChatView {
  /**
   * @param {{ attachment: (cid, id) => Promise<object>, submitForm: (cid, formId, values) => Promise<unknown>,
   *           loadOlder: (chat) => Promise<void>, close: (chat) => void, reachedEnd: (chat) => void }} io
   */
  constructor(io) {
    this.io = io;
    this.chat = null;
    this.root = document.getElementById('chat-view');
    this.placeholder = document.getElementById('no-chat');
    this.title = document.getElementById('chat-title');
    this.transcript = document.getElementById('transcript');
    this.list = document.getElementById('events');
    this.pendingList = document.getElementById('pending');
    this.olderButton = document.getElementById('load-older');
    this.typing = document.getElementById('typing');
    this.typingWho = document.getElementById('typing-who');
    this.typingPeek = document.getElementById('typing-peek');
    this.banner = document.getElementById('chat-banner');
    this.bannerText = document.getElementById('chat-banner-text');
    this.actionButtons = ['action-flow', 'action-file', 'action-transfer', 'action-end']
      .map((id) => document.getElementById(id));
    this.olderButton.addEventListener('click', () => this.#loadOlder());
    document.getElementById('chat-close').addEventListener('click', () => this.chat && this.io.close(this.chat));
    setInterval(() => this.renderTyping(), 1000); // a typing notice lapses by itself
    // Follow the newest message while the agent is at the bottom, also as
    // previews load and grow the transcript.
    this.stuck = true;
    this.jumpButton = document.getElementById('jump-new');
    this.jumpButton.addEventListener('click', () => this.scrollToEnd());
    this.transcript.addEventListener('scroll', () => {
      const was = this.stuck;
      this.stuck = this.#nearEnd();
      if (this.stuck) this.jumpButton.hidden = true;
      if (this.stuck && !was && this.chat) this.io.reachedEnd(this.chat);
    });
    this.transcript.addEventListener('load', () => { if (this.stuck) this.scrollToEnd(); }, true);
  }

  /** Draws a chat; drawing the open one again keeps the agent's place if it reads further up. */
  show(chat) {
    const keep = chat && chat === this.chat && !this.stuck ? this.transcript.scrollTop : null;
    this.chat = chat;
    this.placeholder.hidden = Boolean(chat);
    this.root.hidden = !chat;
    if (!chat) return;
    this.title.textContent = chat.title();
    this.#redraw();
    this.renderPending();
    this.renderStatus();
    this.renderTyping();
    if (keep === null) this.scrollToEnd();
    else this.transcript.scrollTop = keep;
  }

  /** The agent's messages on their way: shown as "Sending…" until stored. */
  renderPending() {
    if (!this.chat) return;
    this.pendingList.replaceChildren(...[...this.chat.pending.values()].map(({ clientToken, text }) => {
      const row = el('li', 'event message from-mine sending');
      row.dataset.clientToken = clientToken;
      row.setAttribute('data-testid', 'pending-message');
      const meta = el('div', 'meta');
      meta.append(el('span', 'who', 'You'));
      const status = el('span', 'delivery', 'Sending…');
      status.dataset.state = 'sending';
      row.append(meta, el('div', 'body', text), status);
      return row;
    }));
    if (this.stuck) this.scrollToEnd();
  }

  /** A new event of the open chat. */
  add(event) {
    if (!this.chat) return;
    if (event.type === 'participant.joined' || event.type === 'participant.left') {
      this.title.textContent = this.chat.title();
    }
    if (event.type === 'message.read' || event.type === 'message.delivered') {
      this.renderDeliveries();
      return;
    }
    if (event.type === 'form.submitted' || event.type === 'form.cancelled') this.#redrawForm(event.form_id);
    if (event.type === 'attachment.scanned') this.#redrawAttachment(event.attachment_id);
    const row = renderEvent(this.chat, event, this.#eventIo());
    if (!row) {
      this.renderStatus();
      return;
    }
    const stick = this.stuck;
    const after = [...this.list.children].find((r) => Number(r.dataset.seq) > event.seq);
    this.list.insertBefore(row, after || null);
    if (event.client_token) this.renderPending();
    if (stick || this.chat.isMine(event)) this.scrollToEnd();
    else if (event.type === 'message') this.jumpButton.hidden = false; // read further up: say something came
    this.renderStatus();
    this.renderTyping();
  }

  renderDeliveries() {
    if (!this.chat) return;
    for (const row of this.list.querySelectorAll('.message.from-mine')) {
      const event = this.chat.events.get(Number(row.dataset.seq));
      if (event) updateDelivery(row, this.chat, event);
    }
  }

  renderStatus() {
    const chat = this.chat;
    if (!chat) return;
    const active = chat.status === 'active';
    for (const b of this.actionButtons) b.disabled = !active;
    this.banner.hidden = active;
    if (!active) {
      this.bannerText.textContent = chat.status === 'ended'
        ? 'The chat has ended. Wrap up, then close it.'
        : 'This chat is no longer yours (transferred).';
    }
    this.olderButton.hidden = !(chat.oldestLoaded > 1 && chat.oldestLoaded !== Infinity);
  }

  renderTyping() {
    const typing = this.chat?.typingNow();
    this.typing.hidden = !typing;
    if (!typing) return;
    this.typingWho.textContent = `${this.chat.nameOf(typing.participantId)} is typing…`;
    this.typingPeek.textContent = typing.text || '';
    this.typingPeek.hidden = !typing.text;
  }

  scrollToEnd() {
    const was = this.stuck;
    this.transcript.scrollTop = this.transcript.scrollHeight;
    this.stuck = true;
    this.jumpButton.hidden = true;
    if (!was && this.chat) this.io.reachedEnd(this.chat);
  }

  #nearEnd() {
    const t = this.transcript;
    return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
  }

  /** A file's row once the scan hook has spoken. */
  #redrawAttachment(attachmentId) {
    for (const old of this.list.querySelectorAll('[data-type="attachment"]')) {
      const event = this.chat.events.get(Number(old.dataset.seq));
      if (event?.attachment_id !== attachmentId) continue;
      const row = renderEvent(this.chat, event, this.#eventIo());
      if (row) old.replaceWith(row);
    }
  }

  /** A form's row once it has been answered or closed. */
  #redrawForm(formId) {
    const old = [...this.list.querySelectorAll('[data-form-id]')].find((r) => r.dataset.formId === formId);
    const event = old && this.chat.events.get(Number(old.dataset.seq));
    const row = event && renderEvent(this.chat, event, this.#eventIo());
    if (row) old.replaceWith(row);
  }

  #redraw() {
    const rows = this.chat.ordered().map((e) => renderEvent(this.chat, e, this.#eventIo())).filter(Boolean);
    this.list.replaceChildren(...rows);
  }

  async #loadOlder() {
    const chat = this.chat;
    const before = this.transcript.scrollHeight - this.transcript.scrollTop;
    this.olderButton.disabled = true;
    try {
      await this.io.loadOlder(chat);
    } finally {
      this.olderButton.disabled = false;
    }
    if (this.chat !== chat) return;
    this.#redraw();
    this.renderStatus();
    this.transcript.scrollTop = this.transcript.scrollHeight - before;
  }

  #eventIo() {
    const cid = this.chat.id;
    return {
      attachment: (id) => this.io.attachment(cid, id),
      submitForm: (formId, values) => this.io.submitForm(cid, formId, values),
    };
  }
}
