// Flows: the deployed flows (latest version of each), and an editor to
// validate or deploy a flow file; problems are shown at their lines.

import { h } from '../shared/dom.js';
import { YamlEditor, problemsOf } from './yaml-editor.js';
import { dataTable, fillRows, rowButton, loadList } from './form-kit.js';

export class FlowsSection {
  constructor(root, api) {
    this.api = api;
    const table = dataTable({ testid: 'flows-table', label: 'Flows', heads: ['Name', 'Version', 'Side', 'Description', 'Deployed'] });
    this.tbody = table.tbody;
    this.listError = h('p', { class: 'error', role: 'alert' });
    this.editor = new YamlEditor({ label: 'Flow file (YAML)', testid: 'flow-editor', field: 'flow' });
    this.status = h('p', { class: 'notice', role: 'status', 'data-testid': 'flow-status' });
    const form = h('form', { class: 'card editor-card', novalidate: true, 'data-testid': 'flow-form' },
      h('h3', {}, 'Validate or deploy a flow'),
      h('p', { class: 'muted small' }, 'Deploying makes the next version of the flow named in the file; runs already going stay on their version.'),
      this.editor.element, this.status,
      h('div', { class: 'form-buttons' },
        h('button', { type: 'button', 'data-testid': 'flow-validate', on: { click: () => this.#submit(false) } }, 'Validate'),
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'flow-deploy' }, 'Deploy')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#submit(true);
    });
    root.append(this.listError, table.wrap, form);
  }

  async show() {
    this.flows = await loadList(this.listError, 'flows', () => this.api.get('/flows'));
    if (!this.flows) return;
    fillRows(this.tbody, this.flows.map((f) => h('tr', { 'data-testid': 'flow-row', 'data-flow': f.name },
      h('th', { scope: 'row' }, f.name),
      h('td', { class: 'num' }, String(f.version)),
      h('td', {}, f.side),
      h('td', {}, f.description || ''),
      h('td', {}, new Date(f.created_at).toLocaleString()),
      h('td', {}, rowButton('Edit a copy', `of ${f.name}`, { testid: 'flow-edit', onClick: () => this.#load(f) })))), 6, 'No flows deployed yet.');
  }

  #load(flow) {
    this.editor.value = flow.source;
    this.status.textContent = `${flow.name} version ${flow.version} loaded; deploying makes version ${flow.version + 1}.`;
    this.editor.textarea.focus();
  }

  async #submit(deploy) {
    this.status.textContent = '';
    this.editor.clearError();
    try {
      if (deploy) {
        const flow = await this.api.post('/flows', this.editor.value, { contentType: 'application/yaml' });
        this.status.textContent = `Deployed ${flow.name} version ${flow.version}.`;
        await this.show();
      } else {
        const v = await this.api.post('/flows/validate', this.editor.value, { contentType: 'application/yaml' });
        this.status.textContent = `Valid: ${v.name}, ${v.steps} step${v.steps === 1 ? '' : 's'}.`;
      }
    } catch (err) {
      this.editor.showErrors(problemsOf(err));
    }
  }
}
