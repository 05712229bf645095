// The signed-in console: owns the agent's chats and offers, listens to the
// AgentClient, and tells each view what changed. Views never talk to the
// server; they call back here.

import { ChatState } from './chat-state.js';
import { OffersView } from './offers.js';
import { ChatListView } from './chat-list.js';
import { ChatView } from './chat-view.js';
import { Composer } from './composer.js';
import { SidePanel } from './side-panel.js';
import { ActionDialogs } from './dialogs.js';
import { PresenceSwitch } from './presence.js';
import { chime, notify, announce } from './alerts.js';
import { previewText } from '../shared/message-body.js';

const PAGE = 50;
/** Messages a chat opens with (more pages are read when receipts fill the newest). */
const RECENT_MESSAGES = 20;
/** Pages read for one load at the most. */
const MAX_PAGES_AT_ONCE = 10;
const LINK_REUSE_MS = 120 * 1000; // download links last 300 s; reuse one for two minutes
const TYPING_SHOWN_MS = 6000;
const STATE_LABELS = {
  idle: 'Not connected', connecting: 'Connecting…', open: 'Connected', reconnecting: 'Reconnecting…',
  offline: 'Offline — retrying', ended: 'Disconnected', closed: 'Disconnected',
};

/** An idempotency token for a send (crypto.randomUUID needs a secure context). */
function newClientToken() {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

export class Console {
  /**
   * @param {import('/assets/sdk/index.js').AgentClient} agent
   * @param {{ signedOut: (reason?: string) => void }} hooks
   */
  constructor(agent, hooks) {
    this.agent = agent;
    this.hooks = hooks;
    this.me = null;
    this.chats = new Map();
    this.selectedId = null;
    this.queueNames = new Map();
    this.unsubscribe = [];
    this.listScheduled = false;
    this.attachments = new Map(); // "cnv/att" → {at, promise}

    this.offers = new OffersView(document.getElementById('offers'), document.getElementById('offers-empty'), {
      accept: (offer) => this.#accept(offer),
      decline: (offer) => this.agent.decline(offer.id).then(() => this.offers.remove(offer.id)),
      changed: () => this.#scheduleList(),
    });
    this.list = new ChatListView(document.getElementById('chat-list'), document.getElementById('chats-empty'),
      (id) => this.select(id, { focus: true }));
    this.view = new ChatView({
      attachment: (cid, id) => this.#attachment(cid, id),
      submitForm: (cid, formId, values) => this.agent.submitForm(cid, formId, values),
      loadOlder: (chat) => this.#loadOlder(chat),
      close: (chat) => this.#closeChat(chat),
      reachedEnd: (chat) => this.#markRead(chat),
    });
    this.composer = new Composer({
      send: (chat, text, contentType) => this.#send(chat, text, contentType),
      typing: (chat) => this.agent.typing(chat.id),
    });
    this.side = new SidePanel({
      history: (chat) => this.#history(chat),
      attachment: (cid, id) => this.#attachment(cid, id),
    });
    this.dialogs = new ActionDialogs({
      flows: async () => (await this.#directory()).flows || [],
      launchFlow: (chat, name, params) => this.#launchFlow(chat, name, params),
      requestFile: (chat, recordId) => this.agent.requestFile(chat.id, recordId ? { record_id: recordId } : {}),
      transferTargets: () => this.#transferTargets(),
      transfer: (chat, to) => this.agent.transfer(chat.id, to),
    });
    this.presence = new PresenceSwitch((activity) => this.agent.setActivity(activity));

    this.#bindActions();
    this.#listen();
  }

  async start() {
    await this.agent.connect();
    this.#loadReferenceData();
  }

  stop() {
    for (const off of this.unsubscribe) off();
    this.unsubscribe = [];
    document.removeEventListener('visibilitychange', this.onVisible);
    window.removeEventListener('focus', this.onVisible);
    document.removeEventListener('keydown', this.onKey);
    this.offers.destroy();
    this.agent.close();
  }

  // ------------------------------------------------------------ socket events

  #listen() {
    const on = (type, fn) => this.unsubscribe.push(this.agent.on(type, fn));
    on('hello', (hello) => this.#hello(hello));
    on('state', (state) => this.#connection(state));
    on('offer', (offer) => this.#offer(offer));
    on('offer_closed', ({ offer, state }) => {
      if (!this.offers.has(offer.id)) return;
      this.offers.remove(offer.id);
      if (state === 'expired' || state === 'revoked') announce(`The chat offer ${state === 'expired' ? 'expired' : 'was withdrawn'}.`);
    });
    on('assigned', ({ conversationId }) => this.#assigned(conversationId));
    on('released', ({ conversationId }) => this.#released(conversationId));
    on('event', (event) => this.#event(event));
    on('presence', (p) => this.presence.show(p.activity, p.available));
    on('agent_input', ({ conversationId, text }) => {
      const chat = this.chats.get(conversationId);
      if (chat) this.composer.prefill(chat, text);
    });
    on('flow_run', (run) => this.#flowRun(run));
    on('typing', (t) => this.#typing(t));
    on('error', (err) => {
      if (err.status === 401 || err.status === 403) this.hooks.signedOut('Your session has ended. Sign in again.');
    });
    this.onVisible = () => this.#markRead(this.#selected());
    document.addEventListener('visibilitychange', this.onVisible);
    window.addEventListener('focus', this.onVisible);
    this.onKey = (e) => this.#shortcut(e);
    document.addEventListener('keydown', this.onKey);
  }

  /** Alt+↓ / Alt+↑: the next / previous chat, its composer focused. */
  #shortcut(e) {
    if (!e.altKey || e.ctrlKey || e.metaKey || (e.key !== 'ArrowDown' && e.key !== 'ArrowUp')) return;
    const chats = this.#ordered();
    if (!chats.length || document.querySelector('dialog[open]')) return;
    e.preventDefault();
    const at = chats.findIndex((c) => c.id === this.selectedId);
    const step = e.key === 'ArrowDown' ? 1 : -1;
    const next = chats[(at + step + chats.length) % chats.length];
    this.select(next.id, { focus: true });
  }

  #hello({ agent, conversations, offers }) {
    this.me = agent;
    document.getElementById('agent-name').textContent = agent?.name ? `Signed in as ${agent.name}` : '';
    if (agent?.activity) this.presence.show(agent.activity, agent.available);
    for (const { conversation_id: cid } of conversations || []) this.#ensureChat(cid, { loadHistory: true });
    for (const offer of offers || []) this.#offer(offer, { quiet: true });
    if (!this.selectedId && this.chats.size) this.select(this.chats.keys().next().value);
  }

  #connection(state) {
    const label = document.getElementById('connection');
    label.textContent = STATE_LABELS[state] || state;
    label.dataset.state = state;
  }

  #offer(offer, { quiet = false } = {}) {
    if (this.offers.has(offer.id)) return;
    const queue = this.queueNames.get(offer.queue_id);
    this.offers.add(offer, queue);
    this.#describeOffer(offer);
    if (quiet) return;
    chime();
    notify('New chat offer', queue ? `Queue: ${queue}` : 'A customer is waiting.', offer.id);
    announce(`New chat offer${queue ? ` from queue ${queue}` : ''}. Accept or decline in the offers list.`);
  }

  /** Reads what it may about the offered chat; an agent may not be allowed to
   * before accepting, and the card then shows the queue only. */
  async #describeOffer(offer) {
    if (!this.queueNames.has(offer.queue_id)) {
      try {
        await this.#directory();
        this.offers.describe(offer.id, { queueName: this.queueNames.get(offer.queue_id) });
      } catch { /* the card keeps the queue id */ }
    }
    // The customer may not have written yet: look again a few times while the offer waits.
    for (let attempt = 0; attempt < 4 && this.offers.has(offer.id); attempt += 1) {
      try {
        const page = await this.agent.transcript(offer.conversation_id, { order: 'asc', limit: 20 });
        const joined = page.events.find((e) => e.type === 'participant.joined' && e.role === 'customer');
        const first = page.events.find((e) => e.type === 'message' && e.participant_id === joined?.member_id);
        this.offers.describe(offer.id, { name: joined?.display_name, firstMessage: first && previewText(first) });
        if (first) return;
      } catch {
        return; // not readable before accepting
      }
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }

  async #accept(offer) {
    await this.agent.accept(offer.id);
    this.offers.remove(offer.id);
    this.#ensureChat(offer.conversation_id, { loadHistory: false });
    this.select(offer.conversation_id, { focus: true });
  }

  #assigned(cid) {
    const fresh = !this.chats.has(cid);
    const chat = this.#ensureChat(cid, { loadHistory: false });
    if (chat.status === 'released') chat.status = 'active';
    if (fresh) announce(`New chat with ${chat.title()}.`);
    if (!this.selectedId) this.select(cid);
    this.#scheduleList();
  }

  #released(cid) {
    const chat = this.chats.get(cid);
    if (!chat) return;
    if (chat.status === 'active') chat.status = 'released';
    this.#refreshChat(chat);
  }

  #event(event) {
    const chat = this.#ensureChat(event.conversation_id, { loadHistory: false });
    if (!chat.ingest(event)) return;
    if (event.type === 'participant.joined' && event.role === 'agent' && !chat.myParticipantIds.size) {
      this.#loadParticipants(chat);
    }
    if (event.type === 'attachment.scanned') this.attachments.delete(`${chat.id}/${event.attachment_id}`);
    const selected = chat.id === this.selectedId;
    if (selected) {
      this.view.add(event);
      this.#markRead(chat);
    } else if (chat.isCustomerMessage(event)) {
      announce(`New message from ${chat.title()}: ${previewText(event).slice(0, 140)}`);
    }
    // A customer message that reached the console but is not read yet: delivered.
    if (chat.isCustomerMessage(event) && chat.status === 'active' && event.seq > chat.lastReadSeq) {
      this.agent.markDelivered(chat.id, event.id).catch(() => {});
    }
    if (chat.isCustomerMessage(event)) notify(`Message from ${chat.title()}`, previewText(event).slice(0, 140), chat.id);
    if (event.type === 'conversation.updated') this.#reloadConversation(chat);

    if (['conversation.ended', 'participant.joined'].includes(event.type)) this.#refreshChat(chat);
    this.#scheduleList();
  }

  #typing({ conversationId, participantId, text }) {
    const chat = this.chats.get(conversationId);
    if (!chat || chat.myParticipantIds.has(participantId)) return;
    chat.typing = { participantId, text, until: Date.now() + TYPING_SHOWN_MS };
    if (chat.id === this.selectedId) this.view.renderTyping();
  }

  #flowRun(run) {
    const chat = this.chats.get(run.conversationId);
    if (!chat) return;
    const known = chat.flowRuns.get(run.runId);
    chat.flowRuns.set(run.runId, { ...known, ...run });
    if (chat.id === this.selectedId) this.side.renderFlows();
    if (known?.state !== run.state && run.state !== 'waiting') announce(`Flow ${run.flow} ${run.state}.`);
  }

  // ------------------------------------------------------------ chats

  #ensureChat(cid, { loadHistory }) {
    let chat = this.chats.get(cid);
    if (chat) return chat;
    chat = new ChatState(cid);
    this.chats.set(cid, chat);
    this.#loadChat(chat, loadHistory);
    this.#scheduleList();
    return chat;
  }

  async #loadChat(chat, loadHistory) {
    const work = [
      this.agent.conversation(chat.id).then((c) => {
        chat.conversation = c;
        if (c.state === 'ended' && chat.status === 'active') chat.status = 'ended';
      }),
      this.#loadParticipants(chat),
    ];
    if (loadHistory) work.push(this.#loadOlder(chat, RECENT_MESSAGES));
    await Promise.allSettled(work);
    this.#refreshChat(chat);
    if (chat.id === this.selectedId) this.view.show(chat);
    this.#scheduleList();
  }

  async #reloadConversation(chat) {
    try {
      chat.conversation = await this.agent.conversation(chat.id);
      this.#refreshChat(chat);
      this.#scheduleList();
    } catch { /* the side panel keeps what it had */ }
  }

  async #loadParticipants(chat) {
    try {
      const answer = await this.agent.request('GET', `/conversations/${chat.id}/participants`);
      const list = Array.isArray(answer) ? answer : answer?.participants || [];
      chat.setParticipants(list, this.me?.id);
      if (chat.id === this.selectedId) this.view.show(chat);
    } catch {
      // Without the list, the agent's own joins are known by its name.
      for (const e of chat.events.values()) {
        if (e.type === 'participant.joined' && e.role === 'agent' && e.display_name === this.me?.name) {
          chat.myParticipantIds.add(e.member_id);
        }
      }
      chat.replayReceipts();
    }
  }

  async #loadPage(chat, opts) {
    const page = await this.agent.transcript(chat.id, opts);
    for (const e of page.events) chat.ingest({ conversation_id: chat.id, ...e });
    chat.replayReceipts();
    if (!page.hasMore && opts.order === 'desc') chat.oldestLoaded = Math.min(chat.oldestLoaded, 1);
    return page.hasMore;
  }

  /** Pages upward until `wanted` more messages are held or the log's start
   * is reached: receipts are events too, and a page of them alone would
   * show nothing new. */
  async #loadOlder(chat, wanted = 1) {
    const target = chat.messageCount() + wanted;
    for (let pages = 0; pages < MAX_PAGES_AT_ONCE; pages += 1) {
      const oldest = chat.oldestLoaded === Infinity ? undefined : chat.oldestLoaded;
      const more = await this.#loadPage(chat, { order: 'desc', beforeSeq: oldest, limit: PAGE });
      if (!more || chat.messageCount() >= target) return;
    }
  }

  select(cid, { focus = false } = {}) {
    const chat = this.chats.get(cid) || null;
    this.selectedId = chat ? cid : null;
    this.composer.bind(chat);
    this.view.show(chat);
    this.side.show(chat);
    this.#markRead(chat);
    this.#scheduleList();
    if (focus) this.composer.focus();
  }

  #selected() {
    return this.selectedId ? this.chats.get(this.selectedId) : null;
  }

  /** Read receipt for what the open chat shows: only while the tab is visible
   * and the transcript is scrolled to its newest message. */
  #markRead(chat) {
    if (!chat || chat.id !== this.selectedId || document.visibilityState !== 'visible') return;
    if (!this.view.stuck) return;
    if (chat.status !== 'active') return;
    const message = chat.messageToMarkRead();
    if (!message) return;
    chat.readSent = message.seq;
    chat.lastReadSeq = Math.max(chat.lastReadSeq, message.seq);
    this.agent.markRead(chat.id, message.id).catch(() => { chat.readSent = 0; });
    this.#scheduleList();
  }

  #refreshChat(chat) {
    if (chat.id !== this.selectedId) return;
    this.view.show(chat);
    this.view.renderStatus();
    this.composer.refreshEnabled();
    this.side.show(chat);
  }

  #closeChat(chat) {
    this.chats.delete(chat.id);
    if (this.selectedId === chat.id) {
      const next = this.#ordered()[0];
      this.select(next ? next.id : null);
    }
    this.#scheduleList();
    document.getElementById('chat-list').querySelector('button')?.focus();
  }

  #ordered() {
    const rank = { active: 0, released: 1, ended: 1 };
    return [...this.chats.values()].sort((a, b) => rank[a.status] - rank[b.status]);
  }

  #scheduleList() {
    if (this.listScheduled) return;
    this.listScheduled = true;
    setTimeout(() => {
      this.listScheduled = false;
      const chats = this.#ordered();
      this.list.render(chats, this.selectedId);
      // The tab's title tells what waits: offers and unread messages.
      const waiting = this.offers.count + chats.reduce((n, c) => n + c.unreadCount(), 0);
      document.title = `${waiting ? `(${waiting}) ` : ''}Switchboard — agent console`;
    }, 0);
  }

  // ------------------------------------------------------------ actions

  #bindActions() {
    const withChat = (fn) => () => { const chat = this.#selected(); if (chat) fn(chat); };
    document.getElementById('action-flow').addEventListener('click', withChat((c) => this.dialogs.openFlow(c)));
    document.getElementById('action-file').addEventListener('click', withChat((c) => this.dialogs.openFile(c)));
    document.getElementById('action-transfer').addEventListener('click', withChat((c) => this.dialogs.openTransfer(c)));
    document.getElementById('action-end').addEventListener('click', withChat(async (chat) => {
      const button = document.getElementById('action-end');
      button.disabled = true;
      try {
        await this.agent.end(chat.id);
      } catch (err) {
        announce(`Could not end the chat: ${err.message}`);
        button.disabled = false;
      }
    }));
  }

  async #send(chat, text, contentType) {
    // Shown at once as "Sending…"; the stored event (same client token) replaces it.
    const clientToken = newClientToken();
    chat.pending.set(clientToken, { clientToken, text });
    if (chat.id === this.selectedId) this.view.renderPending();
    let ack;
    try {
      ack = await this.agent.send(chat.id, text, { contentType, clientToken });
    } catch (err) {
      chat.pending.delete(clientToken);
      if (chat.id === this.selectedId) this.view.renderPending();
      throw err;
    }
    const event = chat.byId.get(ack.id);
    if (event?.participant_id && !chat.myParticipantIds.has(event.participant_id)) {
      chat.myParticipantIds.add(event.participant_id);
      if (chat.id === this.selectedId) this.view.show(chat);
    }
  }

  async #launchFlow(chat, name, params) {
    const run = await this.agent.launchFlow(name, chat.id, params);
    if (run?.id) {
      chat.flowRuns.set(run.id, {
        runId: run.id, conversationId: chat.id, flow: run.flow || name, state: run.state, step: run.step, vars: run.vars,
        ...chat.flowRuns.get(run.id),
      });
      if (chat.id === this.selectedId) this.side.renderFlows();
    }
  }

  /** An attachment with fresh links; one lookup serves redraws for a while. */
  #attachment(cid, id) {
    const key = `${cid}/${id}`;
    const known = this.attachments.get(key);
    if (known && Date.now() - known.at < LINK_REUSE_MS) return known.promise;
    const promise = this.agent.attachment(cid, id);
    this.attachments.set(key, { at: Date.now(), promise });
    promise.catch(() => this.attachments.delete(key));
    return promise;
  }

  /** The events of a continued chat's whole history (its earlier segments included). */
  async #history(chat) {
    const events = [];
    for await (const page of this.agent.pages(chat.id, { segments: 'all', order: 'asc', limit: 500 })) {
      events.push(...page.events);
    }
    return events;
  }

  async #list(path, key) {
    const answer = await this.agent.request('GET', path);
    return Array.isArray(answer) ? answer : answer?.[key] || [];
  }

  /** What an agent may pick from: queues, agents, flows, canned responses (one call). */
  async #directory() {
    const directory = await this.agent.directory();
    for (const q of directory.queues || []) this.queueNames.set(q.id, q.name);
    return directory;
  }

  async #transferTargets() {
    try {
      const { queues = [], agents = [] } = await this.#directory();
      return { queues, agents: agents.filter((a) => a.id !== this.me?.id), problems: [] };
    } catch (err) {
      return { queues: [], agents: [], problems: [err.message] };
    }
  }

  async #loadReferenceData() {
    const [directory, activities] = await Promise.allSettled([
      this.#directory(),
      this.#list('/activities', 'activities'),
    ]);
    this.presence.setActivities(activities.status === 'fulfilled' ? activities.value : []);
    this.composer.setCanned(directory.status === 'fulfilled' ? directory.value.canned_responses : []);
  }
}
