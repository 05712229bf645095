// Activities: the presence states agents can pick. The built-in ones
// (available, away, offline) stay; the workspace's own can be added and
// deleted (after a confirmation).

import { h } from '../shared/dom.js';
import {
  field, clearErrors, showError, confirmAction, dataTable, fillRows, rowButton, sectionLines, formErrorLine, loadList,
} from './form-kit.js';

const BUILT_IN = new Set(['available', 'away', 'offline']);

export class ActivitiesSection {
  constructor(root, api) {
    this.api = api;
    ({ status: this.status, listError: this.listError } = sectionLines('activities-status'));
    const table = dataTable({ testid: 'activities-table', label: 'Activities', heads: ['Name', 'Receives chats'] });
    this.tbody = table.tbody;
    const name = field({ label: 'Name', field: 'name', hint: 'e.g. lunch, training.' });
    const available = field({ label: 'Agents in it receive chats', field: 'available', type: 'checkbox' });
    const form = h('form', { class: 'card editor-card', novalidate: true, 'data-testid': 'activity-form' },
      h('h3', {}, 'New activity'),
      h('div', { class: 'two-cols' }, name.wrap, available.wrap), formErrorLine(),
      h('div', { class: 'form-buttons' }, h('button', { type: 'submit', class: 'primary', 'data-testid': 'activity-create' }, 'Add the activity')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      try {
        const made = await this.api.post('/activities', { name: name.input.value.trim(), available: available.input.checked });
        form.reset();
        await this.show();
        this.status.textContent = `Activity ${made.name} added.`;
      } catch (err) {
        showError(form, err);
      }
    });
    root.append(this.status, this.listError, table.wrap, form);
  }

  async show() {
    this.activities = await loadList(this.listError, 'activities', () => this.api.get('/activities'));
    if (!this.activities) return;
    fillRows(this.tbody, this.activities.map((a) => h('tr', { 'data-testid': 'activity-row', 'data-activity': a.name },
      h('th', { scope: 'row' }, a.name),
      h('td', {}, a.available ? 'yes' : 'no'),
      h('td', {}, BUILT_IN.has(a.name) ? h('span', { class: 'muted small' }, 'built in')
        : rowButton('Delete', a.name, { testid: 'activity-delete', danger: true, onClick: () => this.#delete(a) })))), 3, '');
  }

  async #delete(a) {
    if (!await confirmAction(`Delete the activity ${a.name}?`, 'Delete')) return;
    try {
      await this.api.delete(`/activities/${encodeURIComponent(a.name)}`);
      await this.show();
      this.status.textContent = `Activity ${a.name} deleted.`;
    } catch (err) {
      this.listError.textContent = `Could not delete ${a.name}: ${err.message}`;
    }
  }
}
