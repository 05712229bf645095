// Draws the events of a monitored chat. Text people wrote reaches the DOM only
// through textContent; markdown goes through the shared renderMessageBody,
// which sets the server's sanitized `html` and nothing else.

import { h } from '../shared/dom.js';
import { renderMessageBody, formatTime } from '../shared/message-body.js';

const SILENT = new Set([
  'message.read', 'message.delivered', 'conversation.updated', 'conversation.created',
  'participant.idle', 'participant.returned', 'attachment.scanned',
]);

/** Who is who in the chat, learnt from its `participant.joined` events. */
export class Roster {
  constructor() { this.people = new Map(); }

  /** Takes note of joins and departures; true when who is in the chat changed. */
  learn(event) {
    if (event.type === 'participant.joined' && event.member_id) {
      this.people.set(event.member_id, { name: event.display_name || event.role, role: event.role, present: true });
      return true;
    }
    if ((event.type === 'participant.left' || event.type === 'participant.autodisconnection') && this.people.has(event.member_id)) {
      this.people.get(event.member_id).present = false;
      return true;
    }
    return false;
  }

  /** "Jane (customer), Ann (agent)": who is in the chat now, but `exceptId`. */
  present(exceptId) {
    return [...this.people.entries()]
      .filter(([id, p]) => p.present && id !== exceptId)
      .map(([, p]) => `${p.name} (${p.role})`)
      .join(', ');
  }

  name(id) {
    if (!id) return 'System';
    return this.people.get(id)?.name || 'Someone';
  }

  role(id) {
    return id ? this.people.get(id)?.role || 'unknown' : 'system';
  }
}

/** @returns {HTMLLIElement|null} the row for an event, null for bookkeeping. */
export function renderMonitorEvent(event, roster, myId) {
  if (SILENT.has(event.type)) return null;
  const row = h('li', { class: 'event', 'data-seq': event.seq, 'data-type': event.type });
  if (event.type === 'message' || event.type === 'attachment') {
    const role = event.participant_id === myId ? 'supervisor' : roster.role(event.participant_id);
    row.classList.add('message', `from-${role}`);
    row.setAttribute('data-testid', 'monitor-message');
    const who = event.participant_id === myId ? 'You' : roster.name(event.participant_id);
    row.append(h('div', { class: 'meta' }, h('span', { class: 'who' }, who), ` (${role}) · ${formatTime(event.at)}`));
    const body = h('div', { class: 'body' });
    if (event.type === 'attachment') body.textContent = `Sent a file: ${event.name || 'file'}`;
    else renderMessageBody(body, event);
    row.append(body);
    return row;
  }
  row.classList.add('system');
  row.textContent = noticeText(event, roster);
  return row;
}

function noticeText(event, roster) {
  const about = roster.name(event.member_id);
  const aboutRole = roster.role(event.member_id);
  switch (event.type) {
    case 'participant.joined': return `${about} (${aboutRole}) joined.`;
    case 'participant.left': return `${about} (${aboutRole}) left.`;
    case 'participant.autodisconnection': return `${about} was disconnected for inactivity.`;
    case 'conversation.ended': return 'The chat has ended.';
    case 'conversation.queued': return 'The chat is waiting in line.';
    case 'conversation.transferred': return 'The chat was transferred.';
    case 'conversation.overflowed': return 'The chat became a "message us" request.';
    case 'task.sla_breached': return `A reply was missed (${event.timer || 'reply'} after ${event.after_secs ?? '?'} s).`;
    case 'file.requested': return `${roster.name(event.participant_id)} asked for a file.`;
    case 'form': return 'A form was sent.';
    case 'form.submitted': return 'A form was answered.';
    case 'form.cancelled': return 'A form was closed without an answer.';
    default: return event.type;
  }
}
