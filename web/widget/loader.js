// Switchboard chat widget loader, served at /widget.js. A site adds:
//   <script src="https://SERVER/widget.js" data-entry-point="ept_…" async></script>
// (optional data-open="true" opens the chat at once).
//
// It runs in the host page, so it keeps to itself: a launcher button and the
// chat frame live in a shadow root styled by a constructed stylesheet
// (the host's CSS cannot reach in, its CSP cannot block it). The chat itself
// runs in an iframe on the server's origin; the two talk by postMessage and
// each checks who is talking.
(() => {
  'use strict';

  const script = document.currentScript;
  if (!script || !script.src) return;
  const server = new URL(script.src).origin;
  const entryPoint = script.dataset.entryPoint;
  if (!entryPoint) {
    console.warn('switchboard widget: data-entry-point is missing');
    return;
  }
  // Added twice (a site template and a tag manager, say): one launcher is enough.
  const marker = `switchboard-widget:${server}:${entryPoint}`;
  if (window[Symbol.for(marker)]) return;
  window[Symbol.for(marker)] = true;
  const storageKey = marker;
  const CHANNEL = 'switchboard-widget';

  const css = `
    :host { all: initial !important; display: block !important; }
    .launcher {
      position: fixed; right: 20px; bottom: 20px; z-index: 2147483000;
      width: 56px; height: 56px; border-radius: 50%; border: none; cursor: pointer;
      background: var(--sb-accent, #1f5fbf); color: var(--sb-accent-text, #fff);
      box-shadow: 0 4px 14px rgba(0,0,0,.25);
      display: flex; align-items: center; justify-content: center;
      font: 600 14px/1 system-ui, sans-serif;
    }
    .launcher:focus-visible { outline: 3px solid #111; outline-offset: 3px; box-shadow: 0 0 0 6px #fff; }
    .launcher svg { width: 28px; height: 28px; fill: currentColor; }
    .badge {
      position: absolute; top: -4px; right: -4px; min-width: 20px; height: 20px; padding: 0 5px;
      box-sizing: border-box; border-radius: 10px; background: #b00020; color: #fff;
      font: 700 12px/20px system-ui, sans-serif; text-align: center;
    }
    .badge[hidden] { display: none; }
    .frame-box {
      position: fixed; right: 20px; bottom: 88px; z-index: 2147483000;
      width: 380px; height: 600px; max-height: calc(100vh - 108px);
      border-radius: 12px; overflow: hidden; background: #fff;
      box-shadow: 0 8px 32px rgba(0,0,0,.3);
    }
    .frame-box[hidden] { display: none; }
    iframe { border: 0; width: 100%; height: 100%; display: block; }
    @media (max-width: 480px) {
      .frame-box { inset: 0; width: 100%; height: 100%; max-height: none; border-radius: 0; }
      .frame-box:not([hidden]) + .launcher, .launcher.open { display: none; }
    }
  `;

  const CHAT_ICON = 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z';
  const CLOSE_ICON =
    'M18.3 5.7a1 1 0 0 0-1.4 0L12 10.6 7.1 5.7a1 1 0 0 0-1.4 1.4l4.9 4.9-4.9 4.9a1 1 0 1 0 1.4 1.4l4.9-4.9 4.9 4.9a1 1 0 0 0 1.4-1.4L13.4 12l4.9-4.9a1 1 0 0 0 0-1.4z';

  function svgIcon(d) {
    const ns = 'http://www.w3.org/2000/svg';
    const svg = document.createElementNS(ns, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
    return svg;
  }

  function readState() {
    try {
      return JSON.parse(localStorage.getItem(storageKey) || '{}') || {};
    } catch {
      return {};
    }
  }
  function writeState(patch) {
    try {
      localStorage.setItem(storageKey, JSON.stringify({ ...readState(), ...patch }));
    } catch {
      // storage may be blocked; the widget still works for this page view
    }
  }

  // A tag of its own, so the host's `div { … }` rules do not match it.
  const host = document.createElement('switchboard-chat');
  host.setAttribute('data-switchboard-widget', entryPoint);
  const root = host.attachShadow({ mode: 'open' });
  const sheet = new CSSStyleSheet();
  sheet.replaceSync(css);
  root.adoptedStyleSheets = [sheet];

  const frameBox = document.createElement('div');
  frameBox.className = 'frame-box';
  frameBox.hidden = true;

  const launcher = document.createElement('button');
  launcher.type = 'button';
  launcher.className = 'launcher';
  launcher.setAttribute('aria-label', 'Open chat');
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('data-testid', 'launcher');
  launcher.append(svgIcon(CHAT_ICON));
  const badge = document.createElement('span');
  badge.className = 'badge';
  badge.hidden = true;
  badge.setAttribute('data-testid', 'launcher-badge');
  launcher.append(badge);

  root.append(frameBox, launcher);

  let iframe = null;
  let frameReady = false;
  let focusWhenReady = false; // opened by the person before the frame had loaded
  let isOpen = false;

  function post(message) {
    if (iframe && iframe.contentWindow && frameReady) {
      iframe.contentWindow.postMessage({ channel: CHANNEL, ...message }, server);
    }
  }

  function ensureFrame() {
    if (iframe) return iframe;
    iframe = document.createElement('iframe');
    const url = new URL('/widget/frame', server);
    url.searchParams.set('entry_point', entryPoint);
    iframe.src = url.href;
    iframe.title = 'Chat with us';
    iframe.setAttribute('data-testid', 'widget-frame');
    frameBox.append(iframe);
    return iframe;
  }

  function setBadge(count) {
    const n = Number(count) || 0;
    badge.hidden = n <= 0;
    badge.textContent = n > 99 ? '99+' : String(n);
    const label = isOpen ? 'Close chat' : n > 0 ? `Open chat, ${n} unread` : 'Open chat';
    launcher.setAttribute('aria-label', label);
  }

  /** Shows or hides the panel: the launcher's icon, state and badge follow. */
  function setOpen(opened) {
    isOpen = opened;
    frameBox.hidden = !opened;
    launcher.classList.toggle('open', opened);
    launcher.setAttribute('aria-expanded', String(opened));
    launcher.replaceChildren(svgIcon(opened ? CLOSE_ICON : CHAT_ICON), badge);
    setBadge(0);
    writeState({ open: opened });
  }

  function open({ focus = true } = {}) {
    ensureFrame();
    setOpen(true);
    if (frameReady) post({ type: 'visibility', visible: true, focus });
    else focusWhenReady = focus;
    if (focus) iframe.focus();
  }

  function close({ focusLauncher = true } = {}) {
    setOpen(false);
    post({ type: 'visibility', visible: false });
    if (focusLauncher) launcher.focus();
  }

  launcher.addEventListener('click', () => (isOpen ? close() : open()));
  launcher.addEventListener('keydown', (event) => {
    if (event.key === 'Escape' && isOpen) close();
  });

  window.addEventListener('message', (event) => {
    if (!iframe || event.source !== iframe.contentWindow || event.origin !== server) return;
    const data = event.data;
    if (!data || data.channel !== CHANNEL) return;
    switch (data.type) {
      case 'ready':
        frameReady = true;
        post({ type: 'init', visible: isOpen, focus: isOpen && focusWhenReady });
        focusWhenReady = false;
        break;
      case 'close':
        close();
        break;
      case 'unread':
        if (!isOpen) setBadge(data.count);
        break;
      case 'active':
        writeState({ active: Boolean(data.active) });
        break;
      case 'accent': {
        const hex = /^#[0-9a-f]{3}([0-9a-f]{3})?$/i;
        if (typeof data.color === 'string' && hex.test(data.color)) host.style.setProperty('--sb-accent', data.color);
        if (typeof data.text === 'string' && hex.test(data.text)) host.style.setProperty('--sb-accent-text', data.text);
        break;
      }
      default:
        break;
    }
  });

  function start() {
    document.body.append(host);
    const saved = readState();
    if (script.dataset.open === 'true' || (saved.active && saved.open)) {
      open({ focus: false });
    } else if (saved.active) {
      ensureFrame(); // loaded but hidden, so new messages can show on the badge
    }
  }

  if (document.body) start();
  else document.addEventListener('DOMContentLoaded', start, { once: true });
})();
