// Shared message rendering for the widget and the agent console (created by the
// console; add helpers here, keep each one small and free of page state).
//
// The one XSS rule lives here: text a person typed only ever reaches the DOM
// through textContent. The single exception is the `html` field the server puts
// on `text/markdown` messages, already sanitized there; it is set as innerHTML
// only when present, and its links are made to open safely in a new tab.

/** Renders a message event's body into `el` (its children are replaced). */
export function renderMessageBody(el, event) {
  el.replaceChildren();
  if (event.content_type === 'text/markdown' && typeof event.html === 'string') {
    el.innerHTML = event.html;
    hardenLinks(el);
    el.classList.add('sb-markdown');
    return el;
  }
  el.textContent = messageText(event);
  return el;
}

/** The plain text of a message event, for previews and notifications. */
export function messageText(event) {
  const content = event.content;
  if (typeof content === 'string') return content;
  if (content === undefined || content === null) return '';
  return JSON.stringify(content);
}

/** One line of a message for lists and notifications: markdown marks are
 * dropped (`**twice**` → `twice`, `[site](url)` → `site`). */
export function previewText(event) {
  let text = messageText(event);
  if (event.content_type === 'text/markdown') {
    text = text
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/^\s{0,3}(#{1,6}|>|[-*+]|\d+\.)\s+/gm, '')
      .replace(/(\*\*|\*|~~|`)/g, '');
  }
  return text.replace(/\s+/g, ' ').trim();
}

/** Every link opens in a new tab without access to this page; anything but
 * http(s)/mailto links loses its href (the server's sanitizer already drops
 * them; this is a second line). */
export function hardenLinks(root) {
  for (const a of root.querySelectorAll('a')) {
    const href = a.getAttribute('href') || '';
    if (!/^(https?:|mailto:)/i.test(href.trim())) a.removeAttribute('href');
    a.setAttribute('rel', 'noopener noreferrer');
    a.setAttribute('target', '_blank');
  }
}

/** "14:05" for an RFC 3339 timestamp, in the reader's locale. */
export function formatTime(at) {
  const d = new Date(at);
  if (Number.isNaN(d.getTime())) return '';
  return d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** A human file size: 512 B, 48 KB, 3.2 MB. */
export function formatBytes(n) {
  if (!Number.isFinite(n)) return '';
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(1)} MB`;
}

/** Creates an element with a class and optional text (textContent only). */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}
