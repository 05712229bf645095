// Schedules (hours of operation, docs/routing.md): the list, and an editor
// for one schedule as YAML (an existing one is shown as JSON, which YAML
// reads too). Errors are shown at their line; deleting asks first.

import { h } from '../shared/dom.js';
import { YamlEditor, problemsOf } from './yaml-editor.js';
import { confirmAction, dataTable, fillRows, rowButton, sectionLines, loadList } from './form-kit.js';

const EXAMPLE = `name: support
time_zone: Europe/Paris        # an IANA time zone
weekly:                        # local times; a day left out is closed
  mon: [["09:00", "17:30"]]
  tue: [["09:00", "12:00"], ["13:00", "17:30"]]
  wed: [["09:00", "17:30"]]
  thu: [["09:00", "17:30"]]
  fri: [["09:00", "17:30"]]
exceptions:
  - {date: "2026-12-25", closed: true, name: Christmas}
`;

/** The parts of a stored schedule that its document holds. */
function documentOf(s) {
  return JSON.stringify({ name: s.name, time_zone: s.time_zone, weekly: s.weekly, exceptions: s.exceptions }, null, 2);
}

export class SchedulesSection {
  constructor(root, api) {
    this.api = api;
    this.editingId = null;
    ({ status: this.status, listError: this.listError } = sectionLines('schedules-status'));
    const table = dataTable({ testid: 'schedules-table', label: 'Schedules', heads: ['Name', 'Time zone', 'Open days', 'Exceptions'] });
    this.tbody = table.tbody;
    this.title = h('h3', {});
    this.editor = new YamlEditor({ label: 'Schedule (YAML or JSON)', testid: 'schedule-editor', field: 'schedule' });
    const form = h('form', { class: 'card editor-card', novalidate: true, 'data-testid': 'schedule-form' },
      this.title,
      h('p', { class: 'muted small' }, 'Queues and entry points follow a schedule by its name; saving one they follow opens or closes them at once.'),
      this.editor.element,
      h('div', { class: 'form-buttons' },
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'schedule-save' }, 'Save the schedule'),
        h('button', { type: 'button', on: { click: () => this.#startNew() } }, 'Start a new one')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#save();
    });
    root.append(this.status, this.listError, table.wrap, form);
    this.#startNew();
  }

  async show() {
    this.schedules = await loadList(this.listError, 'schedules', () => this.api.get('/schedules'));
    if (!this.schedules) return;
    fillRows(this.tbody, this.schedules.map((s) => h('tr', { 'data-testid': 'schedule-row', 'data-schedule': s.name },
      h('th', { scope: 'row' }, s.name),
      h('td', {}, s.time_zone),
      h('td', {}, Object.keys(s.weekly || {}).join(', ') || 'none'),
      h('td', { class: 'num' }, String(s.exceptions?.length || 0)),
      h('td', {}, h('div', { class: 'row-actions' },
        rowButton('Edit', s.name, { testid: 'schedule-edit', onClick: () => this.#edit(s) }),
        rowButton('Delete', s.name, { testid: 'schedule-delete', danger: true, onClick: () => this.#delete(s) }))))), 5, 'No schedules yet: every queue and entry point is always open.');
  }

  #startNew() {
    this.editingId = null;
    this.title.textContent = 'New schedule';
    this.editor.value = EXAMPLE;
  }

  #edit(s) {
    this.editingId = s.id;
    this.title.textContent = `Edit ${s.name}`;
    this.editor.value = documentOf(s);
    this.editor.textarea.focus();
  }

  async #save() {
    this.status.textContent = '';
    this.editor.clearError();
    try {
      const saved = this.editingId
        ? await this.api.put(`/schedules/${this.editingId}`, this.editor.value, { contentType: 'application/yaml' })
        : await this.api.post('/schedules', this.editor.value, { contentType: 'application/yaml' });
      await this.show();
      this.#edit(saved);
      this.status.textContent = `Schedule ${saved.name} saved.`;
    } catch (err) {
      this.editor.showErrors(problemsOf(err));
    }
  }

  async #delete(s) {
    if (!await confirmAction(`Delete the schedule ${s.name}?`, 'Delete')) return;
    try {
      await this.api.delete(`/schedules/${s.id}`);
      if (this.editingId === s.id) this.#startNew();
      this.status.textContent = `Schedule ${s.name} deleted.`;
      await this.show();
    } catch (err) {
      // 409 names what still follows it.
      this.listError.textContent = `Could not delete ${s.name}: ${err.message}`;
    }
  }
}
