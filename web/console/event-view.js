// Draws one log event as a transcript row. Everything a person wrote goes in
// through textContent (the shared renderMessageBody owns the one markdown
// exception); events that are bookkeeping (receipts, updates) draw nothing.

import { renderMessageBody, formatTime, formatBytes, el } from '../shared/message-body.js';

const SILENT = new Set([
  'message.read', 'message.delivered', 'conversation.updated', 'conversation.created',
  'participant.idle', 'participant.returned', 'attachment.scanned',
]);

const PREVIEWABLE = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);

/**
 * @param {import('./chat-state.js').ChatState} chat
 * @param {object} event
 * @param {{ attachment: (id: string) => Promise<object>, submitForm: (formId: string, values: object) => Promise<unknown> }} io
 * @returns {HTMLLIElement | null}
 */
export function renderEvent(chat, event, io) {
  if (SILENT.has(event.type)) return null;
  const row = el('li', 'event');
  row.dataset.seq = String(event.seq);
  row.dataset.eventId = event.id;
  row.dataset.type = event.type;
  if (event.conversation_id && event.conversation_id !== chat.id) row.classList.add('earlier-segment');
  switch (event.type) {
    case 'message':
      drawMessage(row, chat, event);
      break;
    case 'attachment':
      drawAttachment(row, chat, event, io);
      break;
    case 'form':
      drawForm(row, chat, event, io);
      break;
    default:
      drawNotice(row, chat, event);
  }
  return row;
}

function drawMessage(row, chat, event) {
  const mine = chat.isMine(event);
  const role = mine ? 'mine' : chat.roleOf(event.participant_id);
  row.classList.add('message', `from-${role}`);
  row.setAttribute('data-testid', 'message');
  const meta = el('div', 'meta');
  meta.append(el('span', 'who', chat.nameOf(event.participant_id)), ' ');
  const time = el('time', 'when', formatTime(event.at));
  time.dateTime = event.at;
  meta.append(time);
  const body = el('div', 'body');
  body.setAttribute('data-testid', 'message-body');
  renderMessageBody(body, event);
  row.append(meta, body);
  if (mine) {
    const status = el('span', 'delivery');
    status.setAttribute('data-testid', 'delivery');
    row.append(status);
    updateDelivery(row, chat, event);
  }
}

/** Refreshes the delivered/read mark on one of the agent's messages. */
export function updateDelivery(row, chat, event) {
  const status = row.querySelector('.delivery');
  if (!status) return;
  const state = chat.deliveryOf(event);
  status.dataset.state = state;
  status.textContent = { read: '✓✓ Read', delivered: '✓✓ Delivered', sent: '✓ Sent' }[state];
}

function drawAttachment(row, chat, event, io) {
  row.classList.add('attachment', chat.isMine(event) ? 'from-mine' : `from-${chat.roleOf(event.participant_id)}`);
  row.setAttribute('data-testid', 'attachment');
  const meta = el('div', 'meta');
  meta.append(el('span', 'who', chat.nameOf(event.participant_id)), ' sent a file');
  const card = el('div', 'file-card');
  const name = el('span', 'file-name', event.name || 'file');
  name.setAttribute('data-testid', 'file-name');
  card.append(name, el('span', 'muted small', ` ${event.content_type || ''} · ${formatBytes(event.size)}`));
  const { status, reason } = scanOutcome(chat, event);
  if (status !== 'approved') {
    const badge = el('span', 'badge', status === 'scanning' ? 'being scanned' : status);
    badge.setAttribute('data-testid', 'file-status');
    card.append(badge);
  }
  row.append(meta, card);
  if (status === 'rejected') {
    card.append(el('span', 'muted small', reason ? `Refused: ${reason}` : 'Refused by the scan.'));
    return;
  }
  if (status !== 'approved') return; // not readable until the scan approves it
  const download = el('button', 'small', 'Download');
  download.type = 'button';
  download.setAttribute('data-testid', 'file-download');
  download.setAttribute('aria-label', `Download ${event.name || 'file'}`);
  download.addEventListener('click', async () => {
    try {
      const att = await io.attachment(event.attachment_id);
      if (!att.download?.url) throw new Error('The file is not available.');
      const link = document.createElement('a');
      link.href = att.download.url;
      link.download = event.name || '';
      link.rel = 'noopener noreferrer';
      document.body.append(link);
      link.click();
      link.remove();
    } catch (err) {
      download.textContent = `Unavailable: ${err.message}`;
    }
  });
  card.append(download);
  if (PREVIEWABLE.has(event.content_type)) {
    const img = el('img', 'thumbnail');
    img.alt = `Preview of ${event.name || 'the image'}`;
    img.setAttribute('data-testid', 'file-preview');
    img.hidden = true;
    row.append(img);
    io.attachment(event.attachment_id).then((att) => {
      const url = att.thumbnail?.url || att.download?.url;
      if (url) { img.src = url; img.hidden = false; }
    }).catch(() => {});
  }
}

function drawForm(row, chat, event, io) {
  row.classList.add('notice', 'form-event');
  row.dataset.formId = event.form_id;
  const title = event.form?.title || event.form?.name || 'a form';
  if (event.to !== 'agent') {
    row.textContent = `Form “${title}” sent to the customer.`;
    return;
  }
  row.setAttribute('data-testid', 'agent-form');
  const outcome = formOutcome(chat, event.form_id);
  if (outcome) {
    row.textContent = outcome === 'form.submitted' ? `Form “${title}” submitted.` : `Form “${title}” was closed.`;
    return;
  }
  const form = el('form', 'agent-form');
  form.append(el('strong', null, title));
  const fields = event.form?.fields || [];
  for (const field of fields) form.append(formField(event.form_id, field));
  const error = el('p', 'error');
  error.setAttribute('role', 'alert');
  const submit = el('button', 'primary small', 'Submit');
  submit.type = 'submit';
  form.append(error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const values = {};
    for (const field of fields) {
      const input = form.elements.namedItem(field.name);
      if (!input) continue;
      if (field.type === 'boolean') values[field.name] = input.checked;
      else if (input.value === '') continue;
      else if (field.type === 'number') values[field.name] = Number(input.value);
      else values[field.name] = input.value;
    }
    submit.disabled = true;
    try {
      await io.submitForm(event.form_id, values);
      form.replaceChildren(el('span', null, `Form “${title}” submitted.`));
    } catch (err) {
      error.textContent = err.message;
      submit.disabled = false;
    }
  });
  row.append(form);
}

/** A file's status after the scan hook's verdict, if one came. */
function scanOutcome(chat, attachment) {
  let outcome = { status: attachment.status || 'approved', reason: null };
  for (const e of chat.events.values()) {
    if (e.type === 'attachment.scanned' && e.attachment_id === attachment.attachment_id && e.seq > attachment.seq) {
      outcome = { status: e.status, reason: e.reason || null };
    }
  }
  return outcome;
}

/** The `attachment` event of a file, if the chat holds it. */
function attachmentEvent(chat, attachmentId) {
  for (const e of chat.events.values()) if (e.type === 'attachment' && e.attachment_id === attachmentId) return e;
  return null;
}

/** 'form.submitted' or 'form.cancelled' once the log says how a form ended. */
function formOutcome(chat, formId) {
  for (const e of chat.events.values()) {
    if ((e.type === 'form.submitted' || e.type === 'form.cancelled') && e.form_id === formId) return e.type;
  }
  return null;
}

function formField(formId, field) {
  const wrap = el('div', 'field');
  const id = `${formId}-${field.name}`;
  const label = el('label', null, field.label || field.name);
  label.htmlFor = id;
  let input;
  if (field.type === 'choice') {
    input = el('select');
    input.append(el('option', null, ''));
    for (const c of field.choices || []) {
      const o = el('option', null, c);
      o.value = c;
      input.append(o);
    }
  } else {
    input = el('input');
    input.type = { number: 'number', date: 'date', email: 'email', boolean: 'checkbox' }[field.type] || 'text';
  }
  input.id = id;
  input.name = field.name;
  if (field.required && field.type !== 'boolean') input.required = true;
  wrap.append(label, input);
  return wrap;
}

function drawNotice(row, chat, event) {
  row.classList.add('notice');
  row.setAttribute('data-testid', `notice-${event.type}`);
  row.textContent = noticeText(chat, event);
}

function describeValues(values) {
  if (!values || typeof values !== 'object') return '';
  return Object.entries(values)
    .map(([k, v]) => `${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
}

function noticeText(chat, event) {
  const who = chat.nameOf(event.participant_id);
  const about = chat.nameOf(event.member_id);
  switch (event.type) {
    case 'participant.joined': return `${about} joined.`;
    case 'participant.left': return `${about} left.`;
    case 'participant.autodisconnection': return `${about} was disconnected for inactivity.`;
    case 'conversation.ended': return 'The chat has ended.';
    case 'conversation.queued': return 'The chat is waiting in line.';
    case 'conversation.transferred': return 'The chat was transferred.';
    case 'task.sla_breached': return 'The reply time limit was exceeded.';
    case 'file.requested': return `${who} asked for a file${event.record_id ? ` (record ${event.record_id})` : ''}.`;
    case 'file.received': {
      const file = attachmentEvent(chat, event.attachment_id);
      return `The requested file was received${file ? `: ${file.name}` : ''}${event.record_id ? ` (record ${event.record_id})` : ''}.`;
    }
    case 'file.request_canceled': return 'The file request was withdrawn.';
    case 'file.request_declined': return 'The customer declined the file request.';
    case 'form.submitted': return `Form answered — ${describeValues(event.values)}`;
    case 'form.cancelled': return 'A form was closed without an answer.';
    default: return event.type.replace(/[._]/g, ' ');
  }
}
