// The agent's chats: one button each, with the customer's name, the newest
// message, the unread count and whether the chat has ended.

import { el, previewText } from '../shared/message-body.js';

export class ChatListView {
  constructor(list, empty, onSelect) {
    this.list = list;
    this.empty = empty;
    this.onSelect = onSelect;
  }

  /** @param {import('./chat-state.js').ChatState[]} chats  @param {string|null} selectedId */
  render(chats, selectedId) {
    const focusedId = this.list.contains(document.activeElement)
      ? document.activeElement.closest('[data-conversation-id]')?.dataset.conversationId
      : null;
    this.list.replaceChildren(...chats.map((chat) => this.#item(chat, chat.id === selectedId)));
    this.empty.hidden = chats.length > 0;
    if (focusedId) this.list.querySelector(`[data-conversation-id="${CSS.escape(focusedId)}"] button`)?.focus();
  }

  #item(chat, selected) {
    const item = el('li', 'chat-item');
    item.dataset.conversationId = chat.id;
    item.setAttribute('data-testid', 'chat-item');
    const button = el('button', 'chat-button');
    button.type = 'button';
    if (selected) button.setAttribute('aria-current', 'true');
    const unread = chat.unreadCount();
    const name = el('span', 'chat-name', chat.title());
    name.setAttribute('data-testid', 'chat-name');
    const last = chat.lastMessage();
    const preview = el('span', 'chat-preview', last ? previewText(last).slice(0, 80) : 'No messages yet');
    button.append(name, preview);
    if (chat.status !== 'active') {
      const state = el('span', 'badge state', chat.status === 'ended' ? 'Ended' : 'Transferred');
      state.setAttribute('data-testid', 'chat-state');
      button.append(state);
    }
    if (unread > 0) {
      // The button's name is its text: "Jane Hello… 2 unread".
      const badge = el('span', 'badge unread');
      const count = el('span', null, String(unread));
      count.setAttribute('data-testid', 'unread-count');
      badge.append(count, el('span', 'visually-hidden', ' unread'));
      button.append(badge);
    }
    button.addEventListener('click', () => this.onSelect(chat.id));
    item.append(button);
    return item;
  }
}
