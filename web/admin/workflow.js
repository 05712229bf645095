// The workflow: one YAML document per workspace (PUT /api/v1/workflow). The
// server refuses a wrong one with the line and column, shown at that line.

import { h } from '../shared/dom.js';
import { YamlEditor, problemsOf } from './yaml-editor.js';

const EXAMPLE = `# Filters are tried in order; the first whose \`if\` holds routes the chat.
filters:
  - name: billing
    if: chat.attributes.topic == "billing"
    steps:
      - queue: billing
        timeout: 2m
default:
  queue: general
`;

export class WorkflowSection {
  constructor(root, api) {
    this.api = api;
    this.editor = new YamlEditor({ label: 'Workflow (YAML)', testid: 'workflow-editor', field: 'workflow' });
    this.version = h('p', { class: 'muted small', 'data-testid': 'workflow-version' });
    this.status = h('p', { class: 'notice', role: 'status', 'data-testid': 'workflow-status' });
    const form = h('form', { class: 'card', novalidate: true, 'data-testid': 'workflow-form' },
      h('p', { class: 'muted small' }, 'It applies to chats routed after it is saved; chats already in line keep their route. ',
        h('a', { href: '/api/docs', target: '_blank', rel: 'noopener noreferrer' }, 'The fields are described in the API docs'), '.'),
      this.version, this.editor.element, this.status,
      h('div', { class: 'form-buttons' },
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'workflow-save' }, 'Apply the workflow'),
        h('button', { type: 'button', on: { click: () => this.show() } }, 'Reload what is in force')));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.#save();
    });
    root.append(form);
  }

  async show() {
    this.status.textContent = '';
    try {
      const wf = await this.api.get('/workflow');
      this.editor.value = wf.source;
      this.version.textContent = `Version ${wf.version} in force.`;
    } catch (err) {
      if (err.status !== 404) {
        this.editor.showErrors([{ message: `Cannot read the workflow: ${err.message}`, line: null }]);
        return;
      }
      this.editor.value = EXAMPLE;
      this.version.textContent = 'No workflow yet: chats are not routed until one is applied. An example to start from:';
    }
  }

  async #save() {
    this.status.textContent = '';
    this.editor.clearError();
    try {
      const wf = await this.api.put('/workflow', this.editor.value, { contentType: 'application/yaml' });
      this.version.textContent = `Version ${wf.version} in force.`;
      this.status.textContent = `Workflow applied (version ${wf.version}).`;
    } catch (err) {
      this.editor.showErrors(problemsOf(err));
    }
  }
}
