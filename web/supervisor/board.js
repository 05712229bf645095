// The signed-in supervisor view: feeds the stats socket's frames to the
// tables and the chart, keeps the agents' presence fresh from the directory,
// and opens the monitor panel and the routing explanation.

import { StatsSocket } from './stats-socket.js';
import { QueuesView } from './queues-view.js';
import { AgentsView } from './agents-view.js';
import { ChatsView } from './chats-view.js';
import { QueueHistory, SAMPLE_EVERY_MS } from './queue-history.js';
import { WaitChart } from './wait-chart.js';
import { MonitorPanel } from './monitor.js';
import { ExplainDialog } from './explain.js';
import { SlaAlerts } from './sla-alerts.js';
import { MessageRequestsView } from './requests-view.js';

const DIRECTORY_EVERY_MS = 3000;
// A presence change that moves no queue's numbers sends no stats frame.
const DIRECTORY_ANYWAY_MS = 30000;
const CONNECTION_LABELS = {
  connecting: 'Connecting…', open: 'Live', reconnecting: 'Reconnecting…', closed: 'Disconnected',
};

export class Board {
  /** @param {{api: import('../shared/api.js').RestClient, token: string, signOut: (msg?: string) => void}} session */
  constructor({ api, token, signOut }) {
    this.api = api;
    this.signOut = signOut;
    this.queueNames = new Map();
    this.agentNames = new Map();
    this.customers = new Map(); // conversation id → name (or a pending promise)
    this.directoryAt = 0;
    this.directoryTimer = null;
    this.firstStats = true;
    this.stopped = false;

    this.queues = new QueuesView(document.getElementById('queues-body'), document.getElementById('queues-empty'));
    this.agents = new AgentsView(document.getElementById('agents-body'), document.getElementById('agents-empty'));
    this.names = {
      queue: (id) => this.queueNames.get(id) || '',
      agent: (id) => this.agentNames.get(id) || '',
      customer: (id) => (typeof this.customers.get(id) === 'string' ? this.customers.get(id) : ''),
    };
    this.chats = new ChatsView(document.getElementById('chats-body'), document.getElementById('chats-empty'), {
      monitor: (id) => this.monitor.open(id, 'monitor'),
      barge: (id) => this.monitor.open(id, 'supervisor'),
      explain: (id) => this.explain.show(id),
    });
    this.chats.setNames(this.names);
    this.history = new QueueHistory();
    this.chart = new WaitChart(document.getElementById('chart'), document.getElementById('chart-note'));
    this.monitor = new MonitorPanel(api, {
      changed: (id) => this.chats.setWatched(id),
      title: (id) => this.names.customer(id) || 'a customer',
    });
    this.explain = new ExplainDialog(api);
    this.alerts = new SlaAlerts({ monitor: (id) => this.monitor.open(id, 'monitor') });
    this.directoryAgents = [];
    this.requests = new MessageRequestsView(api, this.names, () => this.directoryAgents);
    this.messagesWaiting = null;

    const connection = document.getElementById('connection');
    this.socket = new StatsSocket(token, {
      stats: (frame) => this.#stats(frame),
      sla: (frame) => this.alerts.add(frame, this.names),
      state: (state, detail) => {
        connection.dataset.state = state;
        connection.textContent = detail ? `${CONNECTION_LABELS[state]} (${detail})` : CONNECTION_LABELS[state] || state;
      },
      refused: () => this.#refused(),
    });
  }

  async start() {
    this.chart.render(this.history);
    this.socket.start();
    this.#loadDirectory();
    this.requests.refresh();
    try {
      await this.history.load(this.api);
    } catch { /* the page's own samples will do */ }
    if (this.stopped) return; // signed out meanwhile
    this.chart.render(this.history);
    this.ticker = setInterval(() => {
      this.queues.tick();
      this.chats.tick();
    }, 1000);
    this.directoryAnyway = setInterval(() => this.#scheduleDirectory(), DIRECTORY_ANYWAY_MS);
    this.sampler = setInterval(() => {
      this.history.sample();
      this.chart.render(this.history);
    }, SAMPLE_EVERY_MS);
  }

  stop() {
    this.stopped = true;
    clearInterval(this.ticker);
    clearInterval(this.sampler);
    clearInterval(this.directoryAnyway);
    clearTimeout(this.directoryTimer);
    this.socket.stop();
    this.monitor.destroy();
    this.explain.destroy();
    this.alerts.clear();
  }

  #stats({ queues = [], conversations = [] }) {
    for (const q of queues) this.queueNames.set(q.queue_id, q.name);
    this.queues.show(queues);
    this.chats.show(conversations);
    for (const c of conversations) this.#learnCustomer(c.conversation_id);
    this.history.observe(queues);
    const messages = queues.reduce((n, q) => n + q.messages, 0);
    if (messages !== this.messagesWaiting) {
      this.messagesWaiting = messages;
      this.requests.refresh();
    }
    if (this.firstStats) {
      this.firstStats = false;
      this.history.sample();
      this.chart.render(this.history);
    }
    this.#scheduleDirectory();
  }

  /** The directory (agents' presence and load) again, at most every few seconds. */
  #scheduleDirectory() {
    if (this.directoryTimer) return;
    const wait = Math.max(0, this.directoryAt + DIRECTORY_EVERY_MS - Date.now());
    this.directoryTimer = setTimeout(() => {
      this.directoryTimer = null;
      this.#loadDirectory();
    }, wait);
  }

  async #loadDirectory() {
    this.directoryAt = Date.now();
    try {
      const dir = await this.api.get('/directory');
      for (const a of dir.agents || []) this.agentNames.set(a.id, a.name);
      this.directoryAgents = dir.agents || [];
      this.requests.redraw();
      for (const q of dir.queues || []) if (!this.queueNames.has(q.id)) this.queueNames.set(q.id, q.name);
      this.agents.show(dir.agents || []);
    } catch { /* shown again on the next change */ }
  }

  /** The customer's display name, read once per chat. */
  async #learnCustomer(id) {
    if (this.customers.has(id)) return;
    this.customers.set(id, null);
    try {
      const people = await this.api.get(`/conversations/${id}/participants`);
      const customer = people.find((p) => p.role === 'customer');
      this.customers.set(id, customer?.display_name || 'Customer');
      this.chats.refresh();
    } catch {
      this.customers.delete(id);
    }
  }

  /** After a failed socket open: is the key still accepted? */
  async #refused() {
    try {
      await this.api.get('/me');
      return false;
    } catch (err) {
      if (err.status === 401) {
        this.signOut('Your key is no longer accepted. Sign in again.');
        return true;
      }
      return false;
    }
  }
}
