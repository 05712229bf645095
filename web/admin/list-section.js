// What the list sections (entry points, agents, queues) share: a "New …"
// button, a status line, the list as a table, and an editor card for the
// create/edit form.

import { h, clear } from '../shared/dom.js';
import { dataTable, sectionLines, showError, loadList } from './form-kit.js';

export class ListSection {
  /**
   * @param {HTMLElement} root
   * @param {import('../shared/api.js').RestClient} api
   * @param {{ item: string, items: string, label: string, newLabel: string, heads: string[], editorLast?: boolean }} spec
   *   `item`/`items` name the test ids (`agent-new`, `agents-table`, …).
   */
  constructor(root, api, { item, items, label, newLabel, heads, editorLast = false }) {
    this.api = api;
    ({ status: this.status, listError: this.listError } = sectionLines(`${items}-status`));
    const table = dataTable({ testid: `${items}-table`, label, heads });
    this.tbody = table.tbody;
    this.editor = h('div', { class: 'card editor-card', hidden: true, 'data-testid': `${item}-editor` });
    root.append(
      h('div', { class: 'section-bar' },
        h('button', { type: 'button', class: 'primary', 'data-testid': `${item}-new`, on: { click: () => this.edit(null) } }, newLabel)),
      this.status, this.listError,
      ...(editorLast ? [table.wrap, this.editor] : [this.editor, table.wrap]));
  }

  /** Opens the create (null) or edit form; subclasses build it. */
  edit() {
    throw new Error('edit() is for the section to define');
  }

  /** Reads the list; a failure is said in the list's error line (then null). */
  load(what, read) {
    return loadList(this.listError, what, read);
  }

  /** Shows a form in the editor card and focuses its first field. */
  openEditor(focus, ...content) {
    clear(this.editor).append(...content);
    this.editor.hidden = false;
    this.status.textContent = '';
    focus.focus();
  }

  /**
   * Creates (POST `path`) or changes (PATCH `path/id`) an item from the
   * editor's form; then says so, closes the editor and lists again. Errors
   * go to their field in `form`. Resolves with the saved item, or null.
   */
  async save(form, { path, id, body, noun }) {
    try {
      const saved = id ? await this.api.patch(`${path}/${id}`, body) : await this.api.post(path, body);
      this.closeEditor();
      await this.show();
      this.status.textContent = `${noun} ${saved.name} ${id ? 'saved' : 'created'}.`;
      return saved;
    } catch (err) {
      showError(form, err);
      return null;
    }
  }

  closeEditor() {
    this.editor.hidden = true;
    clear(this.editor);
  }
}
