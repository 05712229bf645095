// The last hour of each queue's size and longest wait. It starts from
// GET /api/v1/supervisor/history?minutes=60 when the server has it; without
// it (404), from this page's own stats frames, sampled every 10 seconds.

export const WINDOW_MS = 60 * 60 * 1000;
export const SAMPLE_EVERY_MS = 10 * 1000;

export class QueueHistory {
  constructor() {
    /** @type {Map<string, {name: string, samples: {at: number, waiting: number, longest: number}[]}>} */
    this.series = new Map();
    this.source = 'page'; // or 'server'
    this.latest = null;
  }

  /** Loads the server's history; false when the server does not keep one. */
  async load(api) {
    let body;
    try {
      body = await api.get('/supervisor/history?minutes=60');
    } catch (err) {
      if (err.status === 404) return false;
      throw err;
    }
    for (const q of body?.queues || []) {
      const s = this.#ensure(q.queue_id, q.name);
      const fromServer = (q.samples || [])
        .map((x) => ({ at: Date.parse(x.at), waiting: x.waiting, longest: x.longest_wait_secs }))
        .filter((x) => Number.isFinite(x.at))
        .sort((a, b) => a.at - b.at);
      // Points this page took while the history was on its way come after.
      const last = fromServer.length ? fromServer[fromServer.length - 1].at : -Infinity;
      s.samples = [...fromServer, ...s.samples.filter((x) => x.at > last)];
    }
    this.source = 'server';
    return true;
  }

  /** Remembers the newest queue stats (sampled by `sample`). */
  observe(queues) {
    this.latest = queues;
  }

  /** Adds a point per queue from the newest stats; returns whether one was added. */
  sample(now = Date.now()) {
    if (!this.latest) return false;
    for (const q of this.latest) {
      const s = this.#ensure(q.queue_id, q.name);
      s.name = q.name;
      s.samples.push({ at: now, waiting: q.waiting, longest: q.longest_wait_secs });
    }
    this.#trim(now);
    return true;
  }

  #ensure(id, name) {
    let s = this.series.get(id);
    if (!s) {
      s = { name, samples: [] };
      this.series.set(id, s);
    }
    return s;
  }

  #trim(now) {
    const from = now - WINDOW_MS;
    for (const s of this.series.values()) {
      const first = s.samples.findIndex((x) => x.at >= from);
      if (first > 0) s.samples.splice(0, first);
      else if (first === -1) s.samples.length = 0;
    }
  }
}
