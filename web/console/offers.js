// Offer cards: which queue, who the customer is and what they wrote first (when
// the server lets the agent read it before accepting), a countdown to
// `expires_at`, and accept / decline.

import { el } from '../shared/message-body.js';

export class OffersView {
  /**
   * @param {HTMLElement} list  the <ul> holding the cards
   * @param {HTMLElement} empty the "no offers" text
   * @param {{ accept: (offer) => Promise<void>, decline: (offer) => Promise<void>, changed: () => void }} actions
   */
  constructor(list, empty, actions) {
    this.list = list;
    this.empty = empty;
    this.actions = actions;
    this.cards = new Map(); // offer id → {offer, card, countdown}
    this.timer = setInterval(() => this.#tick(), 1000);
  }

  has(offerId) {
    return this.cards.has(offerId);
  }

  get count() {
    return this.cards.size;
  }

  add(offer, queueName) {
    if (this.cards.has(offer.id)) return;
    const card = el('li', 'offer-card');
    card.setAttribute('data-testid', 'offer');
    card.dataset.offerId = offer.id;
    card.dataset.conversationId = offer.conversation_id;
    const headingId = `offer-${offer.id}-title`;
    card.setAttribute('aria-labelledby', headingId);
    const title = el('h3', 'offer-title', 'New chat');
    title.id = headingId;
    const queue = el('p', 'offer-queue', `Queue: ${queueName || offer.queue_id}`);
    queue.setAttribute('data-testid', 'offer-queue');
    const who = el('p', 'offer-customer');
    who.setAttribute('data-testid', 'offer-customer');
    const first = el('p', 'offer-first muted');
    first.setAttribute('data-testid', 'offer-first-message');
    const countdown = el('p', 'offer-countdown');
    countdown.setAttribute('data-testid', 'offer-countdown');
    const error = el('p', 'error');
    error.setAttribute('role', 'alert');
    const buttons = el('div', 'offer-buttons');
    const accept = el('button', 'primary', 'Accept');
    accept.type = 'button';
    accept.setAttribute('data-testid', 'offer-accept');
    const decline = el('button', 'ghost', 'Decline');
    decline.type = 'button';
    decline.setAttribute('data-testid', 'offer-decline');
    buttons.append(accept, decline);
    const run = (fn) => async () => {
      accept.disabled = decline.disabled = true;
      error.textContent = '';
      try {
        await fn(offer);
      } catch (err) {
        error.textContent = err.code === 'conflict' ? 'This offer is no longer available.' : err.message;
        accept.disabled = decline.disabled = false;
      }
    };
    accept.addEventListener('click', run(this.actions.accept));
    decline.addEventListener('click', run(this.actions.decline));
    card.append(title, queue, who, first, countdown, error, buttons);
    this.list.append(card);
    this.cards.set(offer.id, { offer, card, countdown, who, first, title, queue });
    this.#tick();
    this.#refreshEmpty();
  }

  /** Fills in what is known about the customer once it has been read. */
  describe(offerId, { name, firstMessage, queueName }) {
    const entry = this.cards.get(offerId);
    if (!entry) return;
    if (queueName) entry.queue.textContent = `Queue: ${queueName}`;
    if (name) {
      entry.who.textContent = `Customer: ${name}`;
      entry.title.textContent = `New chat with ${name}`;
    }
    if (firstMessage) entry.first.textContent = `“${firstMessage}”`;
  }

  remove(offerId) {
    const entry = this.cards.get(offerId);
    if (!entry) return;
    const hadFocus = entry.card.contains(document.activeElement);
    entry.card.remove();
    this.cards.delete(offerId);
    this.#refreshEmpty();
    if (hadFocus) document.getElementById('chat-list')?.querySelector('button')?.focus();
  }

  clear() {
    for (const id of [...this.cards.keys()]) this.remove(id);
  }

  #tick() {
    const now = Date.now();
    for (const { offer, countdown } of this.cards.values()) {
      const left = Math.max(0, Math.ceil((Date.parse(offer.expires_at) - now) / 1000));
      countdown.textContent = left > 0 ? `Expires in ${left} s` : 'Expiring…';
      countdown.classList.toggle('urgent', left <= 10);
    }
  }

  #refreshEmpty() {
    this.empty.hidden = this.cards.size > 0;
    this.actions.changed();
  }

  destroy() {
    clearInterval(this.timer);
    this.clear();
  }
}
