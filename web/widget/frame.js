// The chat panel inside the widget's iframe (served at /widget/frame on the
// server's origin). It loads the entry point's settings, shows the pre-chat
// form or resumes the stored chat, and wires the SDK's events to the parts
// of the panel: message log, composer, files, forms, status lines.

import { ChatClient } from '/assets/sdk/index.js';
import { focusables } from '/assets/shared/dom.js';
import { HostBridge } from './bridge.js';
import { loadWidgetConfig, loadAvailability, textColorFor } from './config.js';
import { SessionStore } from './session.js';
import { renderPrechat } from './prechat.js';
import { MessageLog } from './messages.js';
import { Composer } from './composer.js';
import { Files } from './files.js';
import { Forms } from './forms.js';
import { StatusLines } from './status.js';
import { Sender } from './sending.js';

const $ = (selector) => document.querySelector(selector);
const ui = {
  panel: $('.panel'),
  title: $('#panel-title'),
  logo: $('.logo'),
  endChat: $('[data-testid="end-chat"]'),
  close: $('[data-testid="close"]'),
  banner: $('[data-testid="connection"]'),
  views: { loading: $('#view-loading'), prechat: $('#view-prechat'), chat: $('#view-chat') },
  queue: $('[data-testid="queue-status"]'),
  log: $('[data-testid="messages"]'),
  typing: $('[data-testid="typing"]'),
  ended: $('[data-testid="ended"]'),
  newChat: $('[data-testid="new-chat"]'),
  confirmEnd: $('[data-testid="confirm-end"]'),
  confirmEndYes: $('[data-testid="confirm-end-yes"]'),
  confirmEndNo: $('[data-testid="confirm-end-no"]'),
  composer: $('[data-testid="composer"]'),
};

const TRANSCRIPT_PAGE = 50;
/** Why a past chat cannot be continued (gone, already continued, token refused): start afresh. */
const CANNOT_CONTINUE = new Set(['not_found', 'conflict', 'unauthenticated', 'forbidden']);
const entryPointId = new URLSearchParams(location.search).get('entry_point') ?? '';
const baseUrl = location.origin;
const store = new SessionStore(entryPointId);
const bridge = new HostBridge();
const log = new MessageLog(ui.log);
const forms = new Forms(log);
const files = new Files({
  view: ui.views.chat,
  uploads: $('[data-testid="uploads"]'),
  input: $('[data-testid="file-input"]'),
  attach: $('[data-testid="attach"]'),
  dropZone: $('[data-testid="drop-zone"]'),
  log,
});
const sender = new Sender(log, store);
const status = new StatusLines({ banner: ui.banner, queue: ui.queue, typing: ui.typing });
const composer = new Composer(ui.composer, {
  onSend: (text) => sendMessage(text),
  onTyping: (draft) => chat?.typing(draft),
  onDraft: (draft) => store.saveDraft(draft),
});

let config = null;
let chat = null;
let unsubscribe = [];
let selfId = null;
let chatEnded = false;
let unread = 0;
let prechatForm = null;
let focusWanted = false; // the person opened the panel: its first control takes focus

// ------------------------------------------------------------------ start

async function main() {
  bridge.on('init', onHostVisibility);
  bridge.on('visibility', onHostVisibility);
  bridge.start();
  document.addEventListener('keydown', onKeydown);
  window.addEventListener('focus', sendReadReceipts);
  document.addEventListener('visibilitychange', sendReadReceipts);
  ui.close.hidden = !bridge.embedded;
  focusWanted = !bridge.embedded;
  ui.close.addEventListener('click', () => bridge.send('close'));
  ui.newChat.addEventListener('click', () => startOver());
  ui.endChat.addEventListener('click', () => askToEnd());
  ui.confirmEndYes.addEventListener('click', () => endChat());
  ui.confirmEndNo.addEventListener('click', () => {
    ui.confirmEnd.hidden = true;
    composer.focus();
  });

  config = await loadWidgetConfig(baseUrl, entryPointId);
  applyStyle(config.style);

  const saved = store.load();
  if (saved) {
    try {
      await resumeChat(saved);
      return;
    } catch (err) {
      console.warn('switchboard widget: the stored chat could not be resumed', err);
      detach();
      store.clear();
    }
  }
  await showPrechat();
}

function applyStyle(style) {
  document.title = style.title;
  ui.title.textContent = style.title;
  const root = document.documentElement.style;
  root.setProperty('--accent', style.accent_color);
  const text = textColorFor(style.accent_color);
  root.setProperty('--accent-text', text);
  bridge.send('accent', { color: style.accent_color, text });
  if (style.logo_url) {
    ui.logo.src = style.logo_url;
    ui.logo.hidden = false;
  }
}

function showView(name) {
  for (const [key, view] of Object.entries(ui.views)) view.hidden = key !== name;
  ui.endChat.hidden = name !== 'chat' || chatEnded;
}

async function showPrechat() {
  const availability = await loadAvailability(baseUrl, entryPointId);
  prechatForm = renderPrechat(ui.views.prechat, { config, availability, onSubmit: startChat });
  showView('prechat');
  if (focusWanted) prechatForm.focus();
}

// ------------------------------------------------------------------ chats

async function startChat({ displayName, attributes }) {
  const options = { baseUrl, entryPointId, displayName, attributes, connect: false };
  const previous = store.loadPrevious();
  let started = null;
  if (previous) {
    // Continue the customer's last chat: the agent sees the history, and the
    // chat goes first to the agent who had it.
    try {
      started = await ChatClient.start({ ...options, continueFrom: { ...previous, rehydration: 'from_segment' } });
    } catch (err) {
      if (!CANNOT_CONTINUE.has(err?.code)) throw err;
    }
  }
  started ??= await ChatClient.start(options);
  attach(started, []);
  composer.focus();
  await connect();
}

async function resumeChat(saved) {
  const resumed = ChatClient.resume({
    baseUrl,
    token: saved.token,
    conversationId: saved.conversationId,
    lastSeq: saved.lastSeq,
  });
  const history = [];
  if (saved.lastSeq > 0) {
    for await (const page of resumed.pages({ order: 'asc', beforeSeq: saved.lastSeq + 1, limit: TRANSCRIPT_PAGE })) {
      history.push(...page.events);
    }
  }
  selfId = saved.participantId ?? null;
  attach(resumed, history);
  if (!chatEnded) await connect();
}

/** Binds the panel to a chat and shows what is already known of it. */
function attach(next, history) {
  chat = next;
  chatEnded = false;
  unread = 0;
  selfId = next.participant?.id ?? selfId;
  log.reset(selfId);
  files.setChat(next);
  forms.setChat(next);
  sender.setChat(next);
  status.hideQueue();
  status.hideTyping();
  ui.ended.hidden = true;
  ui.confirmEnd.hidden = true;
  setComposerEnabled(true);
  showView('chat');
  for (const event of history) handleEvent(event, false);

  unsubscribe = [
    next.on('event', (event) => handleEvent(event, true)),
    next.on('hello', ({ participant }) => {
      if (participant?.id && participant.id !== selfId) {
        selfId = participant.id;
        log.setSelf(selfId);
      }
      saveSnapshot();
    }),
    next.on('typing', ({ participantId }) => {
      if (participantId !== selfId && !chatEnded) status.typing(log.nameOf(participantId));
    }),
    next.on('queue_position', ({ position, estimatedWaitSecs }) => {
      if (!chatEnded) status.queue(position, estimatedWaitSecs);
    }),
    next.on('state', (state) => {
      status.connection(state);
      // Closed by the client itself only on a failure it cannot get over
      // (the chat was erased, its token refused): nothing more will come.
      if (state === 'closed' && chat === next) loseChat();
    }),
  ];
  if (!chatEnded) {
    composer.setDraft(store.loadDraft());
    sender.resendPending();
    saveSnapshot();
    bridge.send('active', { active: true });
  }
}

async function connect() {
  try {
    await chat.connect();
  } catch (err) {
    // The SDK keeps reconnecting by itself; the banner shows the state.
    console.warn('switchboard widget: connect failed', err);
  }
}

function detach() {
  for (const off of unsubscribe) off();
  unsubscribe = [];
  chat?.close();
  chat = null;
}

function saveSnapshot(seq = 0) {
  if (!chat || chatEnded) return;
  const snapshot = chat.snapshot();
  store.save({ ...snapshot, lastSeq: Math.max(snapshot.lastSeq, seq), participantId: selfId });
}

/** One log event, from the transcript (`live` false) or the stream. */
function handleEvent(event, live) {
  if (!log.add(event)) return; // already shown
  const mine = event.participant_id !== null && event.participant_id === selfId;
  switch (event.type) {
    case 'message':
      if (mine && event.client_token) sender.stored(event.client_token);
      if (!mine) {
        status.hideTyping();
        if (live) receiveMessage(event);
      }
      break;
    case 'attachment':
      files.attachment(event, mine);
      if (!mine && live) receiveMessage(event);
      break;
    case 'attachment.scanned':
      files.scanned(event);
      break;
    case 'file.requested':
      files.requested(event);
      break;
    case 'file.received':
    case 'file.request_canceled':
    case 'file.request_declined':
      files.requestClosed(event);
      break;
    case 'form':
      forms.show(event);
      break;
    case 'form.submitted':
    case 'form.cancelled':
      forms.close(event);
      break;
    case 'conversation.queued':
      if (!chatEnded) status.queue();
      break;
    case 'conversation.overflowed':
      status.hideQueue(); // nobody is coming now: the customer leaves a message instead
      break;
    case 'participant.joined':
      if (event.role !== 'customer' && event.member_id !== selfId) status.hideQueue();
      break;
    case 'participant.autodisconnection':
      if (event.member_id === selfId) markEnded();
      break;
    case 'conversation.ended':
      markEnded();
      break;
    default:
      break;
  }
  if (live) saveSnapshot(event.seq);
}

/** A message or file from someone else arrived live: receipts, unread badge. */
function receiveMessage(event) {
  if (isSeen()) {
    sendReadReceipts();
    return;
  }
  if (event.type === 'message') {
    chat.markDelivered(event.id).catch(() => {});
    log.receiptsSent.delivered.add(event.id);
  }
  unread += 1;
  bridge.send('unread', { count: unread });
}

function isSeen() {
  return bridge.visible && document.visibilityState === 'visible';
}

function sendReadReceipts() {
  if (!chat || chatEnded || !isSeen()) return;
  const id = log.newestUnreadFromOthers();
  if (id) chat.markRead(id).catch(() => log.receiptsSent.read.delete(id));
}

function sendMessage(text) {
  if (chat && !chatEnded) sender.send(text);
}

/** Asks first: a stray click should not end the chat. */
function askToEnd() {
  if (!chat || chatEnded) return;
  ui.confirmEnd.hidden = false;
  ui.confirmEndNo.focus();
}

async function endChat() {
  if (!chat || chatEnded) return;
  ui.confirmEndYes.disabled = true;
  try {
    await chat.end(); // conversation.ended follows on the stream
  } catch (err) {
    console.warn('switchboard widget: could not end the chat', err);
  } finally {
    ui.confirmEndYes.disabled = false;
  }
}

function markEnded() {
  if (chatEnded) return;
  chatEnded = true;
  if (chat) store.savePrevious(chat.token, chat.conversationId);
  setComposerEnabled(false);
  status.hideQueue();
  status.hideTyping();
  ui.ended.hidden = false;
  ui.endChat.hidden = true;
  ui.confirmEnd.hidden = true;
  store.clear();
  bridge.send('active', { active: false });
}

function loseChat() {
  if (chatEnded) return;
  log.note('This chat is no longer available.', 'ended', 'lost-notice');
  markEnded();
}

async function startOver() {
  detach();
  selfId = null;
  chatEnded = false;
  log.reset();
  files.setChat(null);
  forms.setChat(null);
  status.hideConnection();
  await showPrechat();
  prechatForm?.focus();
}

function setComposerEnabled(enabled) {
  composer.setEnabled(enabled);
  files.setEnabled(enabled);
  forms.setEnabled(enabled);
  ui.composer.hidden = !enabled;
}

// ------------------------------------------------------------------ host page, keyboard

function onHostVisibility({ visible, focus }) {
  focusWanted = Boolean(visible && focus);
  if (!visible) return;
  unread = 0;
  bridge.send('unread', { count: 0 });
  sendReadReceipts();
  if (focus) focusFirst();
}

function focusFirst() {
  if (!ui.views.chat.hidden && !ui.composer.hidden) composer.focus();
  else if (!ui.views.prechat.hidden) prechatForm?.focus();
  else ui.close.focus();
}

function onKeydown(event) {
  if (event.key === 'Escape' && bridge.embedded) {
    event.preventDefault();
    bridge.send('close');
    return;
  }
  if (event.key !== 'Tab') return;
  // Keep Tab inside the panel: from the last control back to the first.
  const items = focusables(ui.panel);
  if (items.length === 0) return;
  const first = items[0];
  const last = items[items.length - 1];
  if (event.shiftKey && document.activeElement === first) {
    event.preventDefault();
    last.focus();
  } else if (!event.shiftKey && document.activeElement === last) {
    event.preventDefault();
    first.focus();
  }
}

main().catch((err) => {
  console.error('switchboard widget: failed to start', err);
  ui.views.loading.replaceChildren(document.createTextNode('The chat could not be loaded. Please try again later.'));
});
