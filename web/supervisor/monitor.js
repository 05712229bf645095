// The side panel that follows one chat live. "Monitor" joins it as a silent
// `monitor` participant (customers and agents never see it); "Barge in" joins
// as a visible `supervisor` whose messages reach both sides. The participant
// token opens the chat's own stream through the SDK (from the first event, so
// the transcript comes with it). Leaving removes the participant.

import { ChatClient } from '/assets/sdk/index.js';
import { renderMonitorEvent, Roster } from './monitor-events.js';

const STATE_LABELS = {
  connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…',
  offline: 'Offline — retrying', ended: 'The chat has ended.', closed: 'Not following.',
};
const DISPLAY_NAME = 'Supervisor';

export class MonitorPanel {
  /**
   * @param {import('../shared/api.js').RestClient} api
   * @param {{ changed: (conversationId: string|null) => void, title: (conversationId: string) => string }} hooks
   */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.panel = document.getElementById('monitor');
    this.heading = document.getElementById('monitor-heading');
    this.mode = document.getElementById('monitor-mode');
    this.status = document.getElementById('monitor-state');
    this.people = document.getElementById('monitor-people');
    this.list = document.getElementById('monitor-events');
    this.log = this.list.parentElement;
    this.composer = document.getElementById('monitor-composer');
    this.input = document.getElementById('monitor-input');
    this.error = document.getElementById('monitor-error');
    this.bargeButton = document.getElementById('monitor-barge');
    this.current = null; // {conversationId, role, participantId, client, roster}
    this.busy = Promise.resolve();
    // The panel's elements outlive a session: its listeners go with destroy().
    this.listening = new AbortController();
    const opts = { signal: this.listening.signal };

    this.bargeButton.addEventListener('click', () => {
      if (this.current) this.open(this.current.conversationId, 'supervisor');
    }, opts);
    document.getElementById('monitor-leave').addEventListener('click', () => this.leave(), opts);
    this.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#send();
    }, opts);
    this.input.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
        e.preventDefault();
        this.#send();
      }
    }, opts);
    window.addEventListener('pagehide', () => this.#leaveOnUnload(), opts);
  }

  /** Follows a chat as `monitor` or `supervisor` (switching role rejoins). */
  open(conversationId, role) {
    this.busy = this.busy.then(() => this.#open(conversationId, role)).catch((err) => {
      this.status.textContent = `Could not join the chat: ${err.message}`;
    });
    return this.busy;
  }

  leave() {
    this.busy = this.busy.then(() => this.#leave({ hide: true }));
    return this.busy;
  }

  destroy() {
    this.listening.abort();
    this.#leave({ hide: true });
  }

  async #open(conversationId, role) {
    const same = this.current?.conversationId === conversationId;
    if (same && this.current.role === role) {
      this.heading.focus();
      return;
    }
    await this.#leave({ hide: false });
    this.panel.hidden = false;
    this.heading.textContent = `Chat with ${this.hooks.title(conversationId)}`;
    this.mode.textContent = role === 'monitor'
      ? 'Monitoring silently: the customer and the agent do not see you.'
      : 'Barged in: the customer and the agent see you and your messages.';
    this.panel.dataset.role = role;
    this.bargeButton.hidden = role !== 'monitor';
    this.composer.hidden = role !== 'supervisor';
    this.error.textContent = '';
    this.list.replaceChildren();
    this.people.textContent = '';
    this.status.textContent = 'Joining…';
    this.hooks.changed(conversationId);
    this.heading.focus();

    const { participant, token } = await this.api.post(`/conversations/${conversationId}/participants`, { role, display_name: DISPLAY_NAME });
    const client = ChatClient.resume({ token, conversationId, lastSeq: 0 });
    const current = { conversationId, role, participantId: participant.id, client, roster: new Roster() };
    this.current = current;
    client.on('event', (event) => this.#show(current, event));
    client.on('state', (state) => {
      if (this.current === current) this.status.textContent = STATE_LABELS[state] || state;
    });
    client.on('ended', () => {
      if (this.current !== current) return;
      this.status.textContent = STATE_LABELS.ended;
      this.composer.hidden = true;
      this.bargeButton.hidden = true;
    });
    await client.connect();
    if (role === 'supervisor') this.input.focus();
  }

  #show(current, event) {
    if (this.current !== current) return;
    if (current.roster.learn(event)) {
      this.people.textContent = `In the chat: ${current.roster.present(current.participantId) || 'nobody else'}.`;
    }
    const row = renderMonitorEvent(event, current.roster, current.participantId);
    if (!row) return;
    const atBottom = this.log.scrollHeight - this.log.scrollTop - this.log.clientHeight < 40;
    this.list.append(row);
    if (atBottom) this.log.scrollTop = this.log.scrollHeight;
  }

  async #send() {
    const text = this.input.value.trim();
    if (!text || !this.current || this.current.role !== 'supervisor') return;
    this.error.textContent = '';
    try {
      await this.current.client.send(text);
      this.input.value = '';
    } catch (err) {
      this.error.textContent = `Not sent: ${err.message}`;
    }
  }

  async #leave({ hide }) {
    const current = this.current;
    this.current = null;
    if (current) {
      current.client.close();
      try {
        await this.api.delete(`/conversations/${current.conversationId}/participants/${current.participantId}`);
      } catch (err) {
        if (err.status !== 409 && err.status !== 404) this.status.textContent = `Could not leave cleanly: ${err.message}`;
      }
    }
    if (hide) {
      this.panel.hidden = true;
      this.list.replaceChildren();
      this.hooks.changed(null);
    }
  }

  /** Closing the page leaves the chat too (a request that outlives the page). */
  #leaveOnUnload() {
    const current = this.current;
    if (!current) return;
    fetch(`/api/v1/conversations/${current.conversationId}/participants/${current.participantId}`, {
      method: 'DELETE', keepalive: true, headers: { authorization: `Bearer ${this.api.token}` },
    }).catch(() => {});
  }
}
