// The presence switch: available / away / offline and the workspace's own
// activities. It shows what the server says (a `presence` frame, also for a
// change made elsewhere), not what was last picked.

import { el } from '../shared/message-body.js';

const BUILT_IN = [
  { name: 'available', available: true, label: 'Available' },
  { name: 'away', available: false, label: 'Away' },
  { name: 'offline', available: false, label: 'Offline' },
];

export class PresenceSwitch {
  constructor(setActivity) {
    this.setActivity = setActivity;
    this.select = document.getElementById('presence-select');
    this.dot = document.getElementById('presence-dot');
    this.current = 'offline';
    this.activities = [...BUILT_IN];
    this.#renderOptions();
    this.select.addEventListener('change', () => this.#pick(this.select.value));
  }

  setActivities(list) {
    const extra = (list || []).filter((a) => !BUILT_IN.some((b) => b.name === a.name));
    this.activities = [...BUILT_IN, ...extra.map((a) => ({ ...a, label: a.name }))];
    this.#renderOptions();
  }

  show(activity, available) {
    this.current = activity;
    if (!this.activities.some((a) => a.name === activity)) {
      this.activities.push({ name: activity, available, label: activity });
      this.#renderOptions();
    }
    this.select.value = activity;
    this.dot.dataset.available = String(Boolean(available));
    this.dot.dataset.activity = activity;
  }

  async #pick(activity) {
    this.select.disabled = true;
    try {
      await this.setActivity(activity);
      this.show(activity, this.activities.find((a) => a.name === activity)?.available);
    } catch (err) {
      this.select.value = this.current;
      document.getElementById('announcer').textContent = `Could not change status: ${err.message}`;
    } finally {
      this.select.disabled = false;
    }
  }

  #renderOptions() {
    this.select.replaceChildren(...this.activities.map((a) => {
      const o = el('option', null, a.label || a.name);
      o.value = a.name;
      return o;
    }));
    this.select.value = this.current;
  }
}
