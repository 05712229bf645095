// Field validation shared by the pre-chat form and flow forms: the browser's
// constraint checks, told in words, shown next to the field.

import { h } from '/assets/shared/dom.js';

/** The problem with a field's value, in words, or null when it is fine. */
export function fieldError(input, label) {
  const v = input.validity;
  if (v.valid) return null;
  if (v.valueMissing) return `${label} is required.`;
  if (v.typeMismatch && input.type === 'email') return 'Enter an email address, like name@example.com.';
  if (v.typeMismatch) return `${label} is not valid.`;
  if (v.patternMismatch) return `${label} is not in the expected format.`;
  if (v.rangeUnderflow) return `${label} must be at least ${input.min}.`;
  if (v.rangeOverflow) return `${label} must be at most ${input.max}.`;
  if (v.badInput) return `${label} is not valid.`;
  if (v.stepMismatch) return `${label} is not valid.`;
  return input.validationMessage || `${label} is not valid.`;
}

/** Shows `message` under the field, tied to it for screen readers. */
export function setFieldError(input, message) {
  const id = `${input.id}-error`;
  let note = input.ownerDocument.getElementById(id);
  if (!note) {
    note = h('p', { id, class: 'field-error', 'data-testid': `${input.id}-error` });
    (input.closest('.field') ?? input.parentElement).append(note);
  }
  note.textContent = message;
  input.setAttribute('aria-invalid', 'true');
  input.setAttribute('aria-describedby', id);
}

/** Removes every error shown in `root`. */
export function clearFieldErrors(root) {
  for (const note of root.querySelectorAll('.field-error')) note.remove();
  for (const input of root.querySelectorAll('[aria-invalid]')) {
    input.removeAttribute('aria-invalid');
    input.removeAttribute('aria-describedby');
  }
}
