// Small formatting helpers of the supervisor view.

/** "45 s", "3 min 05 s", "1 h 02 min". */
export function formatDuration(secs) {
  const s = Math.max(0, Math.round(Number(secs) || 0));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(s % 60).padStart(2, '0')} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}

/** "14:05" for a time in milliseconds, in the reader's locale. */
export function clockTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

/** "14:05:09". */
export function clockTimeSeconds(ms) {
  return new Date(ms).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

/** The end of an id, enough to tell chats apart at a glance. */
export function shortId(id) {
  const s = String(id || '');
  return s.length > 12 ? `…${s.slice(-8)}` : s;
}

const STATE_LABELS = { waiting: 'Waiting', offered: 'Offered', assigned: 'With an agent', wrap_up: 'Wrap-up' };
export function stateLabel(state) {
  return STATE_LABELS[state] || state;
}
