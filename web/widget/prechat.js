// The pre-chat form, built from the entry point's settings: greeting,
// availability, the fields, client-side validation, and the start button.

import { h, clear } from '/assets/shared/dom.js';
import { fieldError, setFieldError, clearFieldErrors } from './validation.js';

/**
 * Renders the form into `root`. `onSubmit({displayName, attributes})` starts
 * the chat and may throw; its message is shown on the form.
 */
export function renderPrechat(root, { config, availability, onSubmit }) {
  clear(root);
  const greeting = config.style.greeting ? h('p', { class: 'greeting', 'data-testid': 'greeting' }, config.style.greeting) : null;
  const notice = availabilityNotice(availability);
  const form = h('form', { class: 'form prechat-form', novalidate: true, 'data-testid': 'prechat-form' });
  const inputs = config.prechat.fields.map((field) => {
    const { wrapper, input } = prechatField(field);
    form.append(wrapper);
    return { field, input };
  });
  const alert = h('p', { class: 'form-alert', role: 'alert', 'data-testid': 'prechat-error', hidden: true });
  const submit = h('button', { type: 'submit', class: 'primary', 'data-testid': 'start-chat' }, 'Start chat');
  form.append(alert, submit);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    alert.hidden = true;
    clearFieldErrors(form);
    let firstInvalid = null;
    for (const { field, input } of inputs) {
      const message = fieldError(input, field.label);
      if (message) {
        setFieldError(input, message);
        firstInvalid ??= input;
      }
    }
    if (firstInvalid) {
      firstInvalid.focus();
      return;
    }
    const attributes = {};
    let displayName;
    for (const { field, input } of inputs) {
      const value = input.value.trim();
      if (value === '') continue;
      if (field.name === 'display_name') displayName = value;
      else attributes[field.name] = value;
    }
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      await onSubmit({ displayName, attributes });
    } catch (err) {
      const name = typeof err?.field === 'string' ? err.field.replace(/^attributes\./, '') : null;
      const answer = inputs.find(({ field }) => field.name === name);
      if (answer && err.code !== 'forbidden') {
        setFieldError(answer.input, err.message || `${answer.field.label} is not valid.`);
        answer.input.focus();
      } else {
        alert.textContent = startErrorMessage(err);
        alert.hidden = false;
      }
      submit.disabled = false;
      submit.textContent = 'Start chat';
    }
  });

  root.append(...[greeting, notice, form].filter(Boolean));
  return { focus: () => (inputs[0]?.input ?? submit).focus() };
}

function prechatField(field) {
  const id = `prechat-${field.name}`;
  const common = { id, name: field.name, required: field.required, 'data-testid': `prechat-${field.name}` };
  let input;
  if (field.kind === 'textarea') {
    input = h('textarea', { ...common, rows: 3 });
  } else if (field.kind === 'select') {
    input = h(
      'select',
      common,
      h('option', { value: '' }, field.required ? 'Choose…' : '(none)'),
      field.options.map((option) => h('option', { value: option }, option)),
    );
  } else {
    const autocomplete = { email: 'email', tel: 'tel' }[field.kind] ?? (field.name === 'display_name' ? 'name' : 'off');
    input = h('input', { ...common, type: field.kind, autocomplete });
  }
  const label = h('label', { for: id }, field.label, field.required ? h('span', { class: 'required', 'aria-hidden': 'true' }, ' *') : null);
  return { wrapper: h('div', { class: 'field' }, label, input), input };
}

function availabilityNotice(availability) {
  if (!availability) return null;
  let text = null;
  if (availability.state === 'closed') {
    const when = availability.next_open_at ? new Date(availability.next_open_at) : null;
    text = when && !Number.isNaN(when.getTime())
      ? `We are closed right now. We open again ${when.toLocaleString(undefined, { weekday: 'long', hour: '2-digit', minute: '2-digit' })}. You can still leave us a message.`
      : 'We are closed right now. You can still leave us a message.';
  } else if (availability.state === 'no_agent_available') {
    text = 'All our agents are busy right now. Start a chat and we will answer as soon as we can.';
  }
  return text ? h('p', { class: 'availability', role: 'status', 'data-testid': 'availability' }, text) : null;
}

function startErrorMessage(err) {
  switch (err?.code) {
    case 'forbidden':
      return 'Chat is not available on this website.';
    case 'not_found':
      return 'This chat is not available.';
    case 'rate_limited':
      return 'Too many attempts. Please wait a moment and try again.';
    case 'network_error':
    case 'client_timeout':
      return 'We could not reach the chat service. Check your connection and try again.';
    default:
      return err?.message ? `The chat could not start: ${err.message}` : 'The chat could not start. Please try again.';
  }
}
