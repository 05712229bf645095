// A YAML editor: a textarea with line numbers. An error the server reports
// with a line ("line 6, column 9: …") is shown at that line: the line is
// highlighted, its number marked, and the caret moved there.

import { h } from '../shared/dom.js';

let count = 0;

export class YamlEditor {
  /** @param {{label: string, testid: string, field?: string}} opts */
  constructor({ label, testid, field = 'source' }) {
    count += 1;
    const id = `yaml-${count}`;
    this.gutter = h('ol', { class: 'gutter', 'aria-hidden': 'true', 'data-testid': `${testid}-gutter` });
    this.band = h('div', { class: 'error-band', hidden: true, 'data-testid': `${testid}-error-band` });
    this.textarea = h('textarea', {
      id, class: 'code', spellcheck: 'false', autocapitalize: 'off', autocomplete: 'off', wrap: 'off',
      'data-field': field, 'data-testid': testid, 'aria-describedby': `${id}-error`,
    });
    this.errorBox = h('div', { id: `${id}-error`, class: 'editor-error', role: 'alert', 'data-testid': `${testid}-error` });
    this.box = h('div', { class: 'code-editor' }, this.gutter, this.textarea, this.band);
    this.element = h('div', { class: 'field' }, h('label', { for: id }, label), this.box, this.errorBox);
    this.errorLine = null;

    this.textarea.addEventListener('input', () => {
      this.#numbers();
      if (this.errorLine) this.clearError();
    });
    this.textarea.addEventListener('scroll', () => this.#sync());
    this.#numbers();
  }

  get value() { return this.textarea.value; }

  set value(text) {
    this.textarea.value = text;
    this.clearError();
    this.#numbers();
  }

  clearError() {
    this.errorLine = null;
    this.band.hidden = true;
    this.box.removeAttribute('data-invalid');
    this.textarea.removeAttribute('aria-invalid');
    this.errorBox.replaceChildren();
    for (const li of this.gutter.querySelectorAll('.error-line')) li.classList.remove('error-line');
  }

  /**
   * Shows problems; the first with a line gets the highlight and the caret.
   * @param {{message: string, line: number|null, column: number|null}[]} problems
   */
  showErrors(problems) {
    this.clearError();
    this.box.dataset.invalid = 'true';
    this.textarea.setAttribute('aria-invalid', 'true');
    if (problems.length === 1) {
      this.errorBox.append(h('p', { class: 'editor-error-text' }, describe(problems[0])));
    } else {
      this.errorBox.append(h('p', {}, `${problems.length} problems:`), h('ul', {}, problems.map((p) => h('li', {},
        p.line ? h('button', { type: 'button', on: { click: () => this.goTo(p.line, p.column) } }, describe(p)) : describe(p)))));
    }
    const first = problems.find((p) => p.line);
    if (first) this.goTo(first.line, first.column);
    else this.textarea.focus();
  }

  /** Highlights a line and puts the caret at it (column 1-based). */
  goTo(line, column) {
    const lines = this.textarea.value.split('\n');
    const n = Math.min(Math.max(1, line), lines.length);
    let offset = 0;
    for (let i = 0; i < n - 1; i += 1) offset += lines[i].length + 1;
    const col = Math.min(Math.max(1, column || 1), lines[n - 1].length + 1);
    this.errorLine = n;
    for (const li of this.gutter.querySelectorAll('.error-line')) li.classList.remove('error-line');
    this.gutter.children[n - 1]?.classList.add('error-line');
    this.textarea.focus();
    this.textarea.setSelectionRange(offset + col - 1, offset + col - 1);
    // Scroll the line into the middle of the view, then place the band.
    const lh = this.#lineHeight();
    this.textarea.scrollTop = Math.max(0, (n - 1) * lh - this.textarea.clientHeight / 2);
    this.band.hidden = false;
    this.#sync();
  }

  #numbers() {
    const lines = this.textarea.value.split('\n').length;
    while (this.gutter.children.length < lines) {
      this.gutter.append(h('li', {}, String(this.gutter.children.length + 1)));
    }
    while (this.gutter.children.length > lines) this.gutter.lastElementChild.remove();
  }

  #lineHeight() {
    return parseFloat(getComputedStyle(this.textarea).lineHeight) || 20;
  }

  #sync() {
    this.gutter.scrollTop = this.textarea.scrollTop;
    if (this.errorLine) {
      const top = parseFloat(getComputedStyle(this.textarea).paddingTop) || 0;
      this.band.style.setProperty('top', `${top + (this.errorLine - 1) * this.#lineHeight() - this.textarea.scrollTop}px`);
    }
  }
}

function describe(p) {
  const where = p.line ? `Line ${p.line}${p.column ? `, column ${p.column}` : ''}` : null;
  const text = p.line ? p.message.replace(/^line \d+(, column \d+)?[:,]?\s*/i, '') : p.message;
  return `${where ? `${where}: ` : ''}${text}${p.field ? ` (${p.field})` : ''}`;
}

/** The problems of an ApiError, each with its line (from `errors` when there are several). */
export function problemsOf(err) {
  const list = err.errors?.length ? err.errors : [{ field: err.field, message: err.message }];
  return list.map((e) => {
    const m = /\bline (\d+)(?:, column (\d+))?/.exec(e.message || '');
    return { field: e.field, message: e.message, line: m ? Number(m[1]) : null, column: m?.[2] ? Number(m[2]) : null };
  });
}
