// Building blocks of the admin forms: labelled fields, errors shown at the
// field the API names (`error.field`, e.g. `widget.prechat[0].name`), and a
// confirmation dialog before destructive actions.

import { h } from '../shared/dom.js';

let uid = 0;
const nextId = (base) => `${base}-${(uid += 1)}`;

/**
 * A labelled control with its hint and its error line.
 * @param {{label: string, field: string, type?: string, value?: unknown, hint?: string,
 *          required?: boolean, options?: (string|[string,string])[], rows?: number,
 *          attrs?: object}} spec
 *   `field` is the API's name for it (errors come back with it).
 */
export function field(spec) {
  const id = nextId(spec.field.replace(/[^a-z0-9]+/gi, '-'));
  const errorId = `${id}-error`;
  const hintId = spec.hint ? `${id}-hint` : null;
  let input;
  const common = { id, 'data-field': spec.field, 'aria-describedby': [hintId, errorId].filter(Boolean).join(' '), ...spec.attrs };
  if (spec.type === 'textarea') {
    input = h('textarea', { rows: spec.rows || 3, ...common });
    input.value = spec.value ?? '';
  } else if (spec.type === 'select') {
    input = h('select', common, (spec.options || []).map((o) => {
      const [value, text] = Array.isArray(o) ? o : [o, o];
      return h('option', { value }, text);
    }));
    input.value = spec.value ?? '';
  } else if (spec.type === 'checkbox') {
    input = h('input', { type: 'checkbox', ...common });
    input.checked = Boolean(spec.value);
    return {
      wrap: h('div', { class: 'field' },
        h('span', { class: 'checkbox' }, input, h('label', { for: id }, spec.label)),
        spec.hint ? h('span', { id: hintId, class: 'hint' }, spec.hint) : null,
        h('p', { id: errorId, class: 'error', 'data-error-for': spec.field })),
      input,
    };
  } else {
    input = h('input', { type: spec.type || 'text', ...common });
    input.value = spec.value ?? '';
  }
  if (spec.required) input.required = true;
  return {
    wrap: h('div', { class: 'field' },
      h('label', { for: id }, spec.label),
      input,
      spec.hint ? h('span', { id: hintId, class: 'hint' }, spec.hint) : null,
      h('p', { id: errorId, class: 'error', 'data-error-for': spec.field })),
    input,
  };
}

/** The control for an API field name, or for the nearest enclosing name. */
export function controlFor(form, apiField) {
  let name = String(apiField || '');
  while (name) {
    const found = form.querySelector(`[data-field="${CSS.escape(name)}"]`);
    if (found) return found;
    const cut = Math.max(name.lastIndexOf('.'), name.lastIndexOf('['));
    name = cut > 0 ? name.slice(0, cut) : '';
  }
  return null;
}

/** Clears every error shown in a form. */
export function clearErrors(form) {
  for (const p of form.querySelectorAll('.error')) p.textContent = '';
  for (const c of form.querySelectorAll('[aria-invalid]')) c.removeAttribute('aria-invalid');
}

/**
 * Shows an error at its field (focused), else in the form's general error
 * line (`[data-form-error]`).
 */
export function showError(form, err, { field: localField } = {}) {
  const control = controlFor(form, localField || err.field);
  const message = err.message || String(err);
  if (control) {
    control.setAttribute('aria-invalid', 'true');
    const line = document.getElementById(control.getAttribute('aria-describedby')?.split(' ').pop() || '');
    if (line) line.textContent = message;
    control.focus();
    return;
  }
  const general = form.querySelector('[data-form-error]');
  if (general) {
    general.textContent = message;
    general.focus?.();
  }
}

/** Numbers from an input: '' → null, else an integer (NaN stays to be refused). */
export function intOrNull(input) {
  const v = input.value.trim();
  return v === '' ? null : Number(v);
}

/**
 * Asks before a destructive action, in the page's confirm dialog.
 * @returns {Promise<boolean>}
 */
export function confirmAction(message, confirmLabel) {
  const dialog = document.getElementById('confirm-dialog');
  document.getElementById('confirm-message').textContent = message;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = confirmLabel;
  return new Promise((resolve) => {
    dialog.addEventListener('close', () => resolve(dialog.returnValue === 'confirm'), { once: true });
    dialog.returnValue = '';
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** Copies text, telling the user in `status`. */
export async function copyText(text, status) {
  try {
    await navigator.clipboard.writeText(text);
    status.textContent = 'Copied.';
  } catch {
    status.textContent = 'Copy did not work here: select the text and copy it yourself.';
  }
}

/**
 * A card with a table of items; the last column holds each row's actions.
 * @returns {{wrap: HTMLElement, tbody: HTMLElement}}
 */
export function dataTable({ testid, label, heads }) {
  const tbody = h('tbody');
  const wrap = h('div', { class: 'card table-wrap', role: 'region', tabindex: 0, 'aria-label': `${label} table` },
    h('table', { class: 'data', 'data-testid': testid },
      h('thead', {}, h('tr', {}, heads.map((t) => h('th', { scope: 'col' }, t)),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, 'Actions')))),
      tbody));
  return { wrap, tbody };
}

/** Puts `rows` in a table body, or one line saying there is nothing yet. */
export function fillRows(tbody, rows, columns, emptyText) {
  tbody.replaceChildren(...rows);
  if (!rows.length) tbody.append(h('tr', {}, h('td', { colspan: columns, class: 'muted' }, emptyText)));
}

/** A small button whose accessible name ends with what it acts on (`Edit` + hidden ` Ann`). */
export function rowButton(text, about, { testid, danger = false, onClick }) {
  return h('button', { type: 'button', class: danger ? 'small danger' : 'small', 'data-testid': testid, on: { click: onClick } },
    text, h('span', { class: 'visually-hidden' }, ` ${about}`));
}

/** A section's status line (announced) and its error line for list problems. */
export function sectionLines(testid) {
  return {
    status: h('p', { class: 'notice', role: 'status', 'data-testid': testid }),
    listError: h('p', { class: 'error', role: 'alert' }),
  };
}

/**
 * Shows a secret once in `box` (a `.secret` element): a heading, its lines
 * (`[label, value, testid]`), a copy button for `copy`, and Done, which hides
 * it and moves the focus to `after`.
 */
export function showSecret(box, { heading, lines, copy, copyLabel, after }) {
  const copyStatus = h('span', { class: 'small', role: 'status' });
  box.replaceChildren(
    h('p', {}, h('strong', {}, heading)),
    ...lines.map(([label, value, testid]) => h('p', {}, `${label}: `, h('code', { 'data-testid': testid }, value))),
    h('div', { class: 'form-buttons' },
      h('button', { type: 'button', on: { click: () => copyText(copy, copyStatus) } }, copyLabel),
      h('button', { type: 'button', on: { click: () => { box.hidden = true; box.replaceChildren(); after?.focus(); } } }, 'Done'),
      copyStatus));
  box.hidden = false;
  box.focus();
}

/** Reads a list; a failure is said in `errorLine` (then null). */
export async function loadList(errorLine, what, read) {
  try {
    const value = await read();
    errorLine.textContent = '';
    return value;
  } catch (err) {
    errorLine.textContent = `Cannot list the ${what}: ${err.message}`;
    return null;
  }
}

/** The general error line of a form (errors without a field of their own). */
export function formErrorLine() {
  return h('p', { class: 'error', role: 'alert', 'data-form-error': '', tabindex: '-1' });
}
