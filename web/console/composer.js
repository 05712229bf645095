// The composer: Enter sends, Shift+Enter is a new line; typing notices (at most
// one every two seconds); drafts kept per chat; `agent_input` prefills; canned
// responses picked by typing `/` at the start (arrow keys, Enter) or from the
// Canned button. A message that starts from a canned response is sent as
// markdown (canned texts are written by admins, often with emphasis or links);
// what the agent types alone is plain text.

import { el } from '../shared/message-body.js';

const TYPING_EVERY_MS = 2000;

export class Composer {
  /**
   * @param {{ send: (chat, text, contentType) => Promise<void>, typing: (chat) => void }} io
   */
  constructor(io) {
    this.io = io;
    this.chat = null;
    this.canned = [];
    this.matches = [];
    this.active = -1;
    this.lastTyping = 0;
    this.form = document.getElementById('composer');
    this.input = document.getElementById('composer-input');
    this.error = document.getElementById('composer-error');
    this.popup = document.getElementById('canned-popup');
    this.cannedList = document.getElementById('canned-list');
    this.cannedButton = document.getElementById('canned-button');
    this.sendButton = this.form.querySelector('[type="submit"]');

    this.form.addEventListener('submit', (e) => { e.preventDefault(); this.#send(); });
    this.input.addEventListener('keydown', (e) => this.#keydown(e));
    this.input.addEventListener('input', () => this.#changed());
    // Leaving the composer closes the list (unless focus came straight back,
    // as it does from the Canned button).
    this.input.addEventListener('blur', () => setTimeout(() => {
      if (document.activeElement !== this.input) this.#closeCanned();
    }, 150));
    this.cannedButton.addEventListener('mousedown', (e) => e.preventDefault());
    this.cannedButton.addEventListener('click', () => {
      if (!this.popup.hidden) { this.#closeCanned(); return; }
      if (!this.input.value.startsWith('/')) this.input.value = `/${this.input.value}`;
      this.input.focus();
      this.#changed();
    });
  }

  /** Canned responses from the server; an empty list hides the feature. */
  setCanned(list) {
    this.canned = Array.isArray(list) ? list : [];
    this.cannedButton.hidden = this.canned.length === 0;
  }

  bind(chat) {
    if (this.chat) this.chat.draft = this.input.value;
    this.chat = chat;
    this.#closeCanned();
    this.error.textContent = '';
    if (!chat) return;
    this.input.value = chat.draft || '';
    this.refreshEnabled();
  }

  refreshEnabled() {
    const active = this.chat?.status === 'active';
    this.input.disabled = !active;
    this.sendButton.disabled = !active;
    this.cannedButton.disabled = !active;
  }

  /** `agent_input`: puts text in a chat's composer (the open one shows it at once). */
  prefill(chat, text) {
    chat.draft = text;
    if (chat === this.chat) {
      this.input.value = text;
      this.input.focus();
      this.input.setSelectionRange(text.length, text.length);
    }
  }

  focus() {
    if (!this.input.disabled) this.input.focus();
  }

  async #send() {
    const chat = this.chat;
    const text = this.input.value;
    if (!chat || !text.trim()) return;
    this.error.textContent = '';
    this.input.value = '';
    chat.draft = '';
    const contentType = chat.draftMarkdown ? 'text/markdown' : 'text/plain';
    chat.draftMarkdown = false;
    try {
      await this.io.send(chat, text, contentType);
    } catch (err) {
      if (this.chat === chat && !this.input.value) this.input.value = text;
      else chat.draft = chat.draft || text;
      this.error.textContent = `Not sent: ${err.message}`;
    }
  }

  #keydown(e) {
    if (!this.popup.hidden && this.matches.length) {
      if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
        e.preventDefault();
        const step = e.key === 'ArrowDown' ? 1 : -1;
        this.#highlight((this.active + step + this.matches.length) % this.matches.length);
        return;
      }
      if (e.key === 'Enter' || e.key === 'Tab') {
        e.preventDefault();
        this.#pick(this.matches[Math.max(0, this.active)]);
        return;
      }
    }
    if (e.key === 'Escape' && !this.popup.hidden) {
      e.preventDefault();
      this.#closeCanned();
      return;
    }
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      this.#send();
    }
  }

  #changed() {
    if (this.chat) {
      this.chat.draft = this.input.value;
      if (!this.input.value) this.chat.draftMarkdown = false;
    }
    const now = Date.now();
    if (this.chat && this.input.value && now - this.lastTyping > TYPING_EVERY_MS) {
      this.lastTyping = now;
      this.io.typing(this.chat);
    }
    const value = this.input.value;
    if (this.canned.length && value.startsWith('/') && !value.includes('\n')) this.#openCanned(value.slice(1));
    else this.#closeCanned();
  }

  #openCanned(query) {
    // Shortcut ids starting with what was typed first, then titles and texts containing it.
    const q = query.trim().toLowerCase();
    const byId = this.canned.filter((c) => String(c.id || '').toLowerCase().startsWith(q));
    const byText = this.canned.filter((c) => !byId.includes(c)
      && (c.title.toLowerCase().includes(q) || c.text.toLowerCase().includes(q)));
    this.matches = [...byId, ...byText].slice(0, 8);
    this.cannedList.replaceChildren(...this.matches.map((c, i) => {
      const option = el('li', 'canned-option');
      option.id = `canned-${i}`;
      option.setAttribute('role', 'option');
      option.setAttribute('aria-selected', 'false');
      option.setAttribute('data-testid', 'canned-option');
      option.append(el('strong', null, `/${c.id} · ${c.title}`), el('span', 'muted small', c.text.slice(0, 90)));
      option.addEventListener('mousedown', (e) => { e.preventDefault(); this.#pick(c); });
      return option;
    }));
    if (!this.matches.length) this.cannedList.append(el('li', 'muted small', 'No canned response matches.'));
    this.popup.hidden = false;
    this.cannedButton.setAttribute('aria-expanded', 'true');
    this.#highlight(this.matches.length ? 0 : -1);
  }

  #highlight(index) {
    this.active = index;
    [...this.cannedList.querySelectorAll('[role="option"]')].forEach((o, i) => {
      o.setAttribute('aria-selected', String(i === index));
    });
    if (index >= 0) this.input.setAttribute('aria-activedescendant', `canned-${index}`);
    else this.input.removeAttribute('aria-activedescendant');
  }

  #pick(canned) {
    if (!canned) return;
    this.input.value = canned.text;
    if (this.chat) {
      this.chat.draft = canned.text;
      this.chat.draftMarkdown = true;
    }
    this.#closeCanned();
    this.input.focus();
  }

  #closeCanned() {
    this.popup.hidden = true;
    this.matches = [];
    this.active = -1;
    this.input.removeAttribute('aria-activedescendant');
    this.cannedButton.setAttribute('aria-expanded', 'false');
  }
}
