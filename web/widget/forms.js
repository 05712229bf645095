// Forms a flow sends to the customer (`form` events): real form controls
// with labels and client checks, submitted with the SDK; the server's 422
// (`field: values.NAME`) is shown at that field. `form.submitted` and
// `form.cancelled` close the form.

import { h } from '/assets/shared/dom.js';
import { fieldError, setFieldError, clearFieldErrors } from './validation.js';

export class Forms {
  constructor(log) {
    this.log = log;
    this.chat = null;
    this.open = new Map(); // form id → {card}
    this.labels = new Map(); // form id → {field name → label}
    this.enabled = true;
  }

  setChat(chat) {
    this.chat = chat;
    this.open.clear();
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    for (const { card } of this.open.values()) {
      for (const control of card.querySelectorAll('input, select, textarea, button')) control.disabled = !enabled;
    }
  }

  /** A `form` event for the customer. */
  show(event) {
    if (event.to && event.to !== 'customer') return;
    const spec = event.form ?? { fields: [] };
    const formId = event.form_id;
    const titleId = `form-${formId}-title`;
    const form = h('form', { class: 'form', novalidate: true, 'aria-labelledby': titleId });
    const controls = spec.fields.map((field) => {
      const control = fieldControl(formId, field);
      form.append(control.wrapper);
      return control;
    });
    const alert = h('p', { class: 'form-alert', role: 'alert', hidden: true, 'data-testid': 'flow-form-error' });
    const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'flow-form-submit' }, 'Send');
    form.append(alert, submit);
    const card = h(
      'div',
      { class: 'card flow-form', 'data-testid': 'flow-form', 'data-form-id': formId },
      h('p', { class: 'card-title', id: titleId }, spec.title || 'Please fill in this form'),
      spec.description ? h('p', { class: 'muted' }, spec.description) : null,
      form,
    );

    form.addEventListener('submit', async (submitEvent) => {
      submitEvent.preventDefault();
      alert.hidden = true;
      clearFieldErrors(form);
      let firstInvalid = null;
      const values = {};
      for (const control of controls) {
        const problem = control.check();
        if (problem) {
          setFieldError(control.input, problem);
          firstInvalid ??= control.input;
          continue;
        }
        const value = control.value();
        if (value !== undefined) values[control.field.name] = value;
      }
      if (firstInvalid) {
        firstInvalid.focus();
        return;
      }
      submit.disabled = true;
      try {
        await this.chat.submitForm(formId, values);
        // closed when form.submitted arrives
      } catch (err) {
        submit.disabled = false;
        const name = typeof err?.field === 'string' && err.field.startsWith('values.') ? err.field.slice(7) : null;
        const control = name ? controls.find((c) => c.field.name === name) : null;
        if (control) {
          setFieldError(control.input, err.message || 'This value is not accepted.');
          control.input.focus();
        } else {
          alert.textContent = err?.code === 'conflict' ? 'This form was already sent.' : `The form could not be sent: ${err?.message ?? 'unknown error'}`;
          alert.hidden = false;
        }
      }
    });

    this.open.set(formId, { card });
    this.labels.set(formId, Object.fromEntries(spec.fields.map((f) => [f.name, f.label || f.name])));
    this.log.insert(event, card);
    this.setEnabled(this.enabled);
  }

  /** `form.submitted` / `form.cancelled`: the form is closed with a summary. */
  close(event) {
    const entry = this.open.get(event.form_id);
    const card = entry?.card ?? this.log.root.querySelector(`[data-form-id="${CSS.escape(event.form_id)}"]`);
    this.open.delete(event.form_id);
    if (!card) return;
    const form = card.querySelector('form');
    form?.remove();
    card.classList.add('closed');
    card.dataset.state = event.type === 'form.submitted' ? 'submitted' : 'cancelled';
    if (event.type === 'form.submitted') {
      const list = h('dl', { class: 'form-summary' });
      for (const [name, value] of Object.entries(event.values ?? {})) {
        list.append(h('dt', {}, this.labels.get(event.form_id)?.[name] ?? name), h('dd', {}, displayValue(value)));
      }
      card.append(h('p', { class: 'muted' }, 'Sent. Thank you!'), list);
    } else {
      card.append(h('p', { class: 'muted' }, 'This form is closed.'));
    }
  }
}

function displayValue(value) {
  if (value === true) return 'Yes';
  if (value === false) return 'No';
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/** One field: its control, a check in words, and its typed value. */
function fieldControl(formId, field) {
  const id = `form-${formId}-${field.name}`;
  const label = field.label || field.name;
  const common = { id, name: field.name, required: Boolean(field.required) && field.type !== 'boolean', 'data-testid': `flow-field-${field.name}` };
  let input;
  switch (field.type) {
    case 'number':
      input = h('input', { ...common, type: 'number', step: 'any', min: field.min ?? null, max: field.max ?? null, inputmode: 'decimal' });
      break;
    case 'choice':
      input = h(
        'select',
        common,
        h('option', { value: '' }, 'Choose…'),
        (field.choices ?? []).map((choice) => h('option', { value: choice }, choice)),
      );
      break;
    case 'date':
      input = h('input', { ...common, type: 'date' });
      break;
    case 'email':
      input = h('input', { ...common, type: 'email', autocomplete: 'email' });
      break;
    case 'boolean':
      input = h('input', { ...common, type: 'checkbox' });
      break;
    default:
      input = h('input', { ...common, type: 'text', pattern: field.pattern ?? null });
  }
  const labelNode = h('label', { for: id }, label, field.required && field.type !== 'boolean' ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null);
  const wrapper = field.type === 'boolean'
    ? h('div', { class: 'field checkbox' }, input, labelNode)
    : h('div', { class: 'field' }, labelNode, input);
  return {
    field,
    input,
    wrapper,
    check: () => fieldError(input, label),
    value: () => {
      if (field.type === 'boolean') return input.checked;
      const raw = input.value.trim();
      if (raw === '') return undefined;
      return field.type === 'number' ? Number(raw) : raw;
    },
  };
}
