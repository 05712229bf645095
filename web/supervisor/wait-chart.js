// Two small line charts drawn as SVG (no library): chats in line and the
// longest wait per queue over the last hour. Each has a text summary for
// screen readers, and a visually hidden table holds the same data.

import { h, clear } from '../shared/dom.js';
import { clockTime, clockTimeSeconds, formatDuration } from './format.js';
import { WINDOW_MS } from './queue-history.js';

const NS = 'http://www.w3.org/2000/svg';
const W = 440;
const H = 200;
const PAD = { left: 44, right: 14, top: 10, bottom: 26 };
const SERIES_STYLES = 6;

function svgEl(tag, attrs = {}, text) {
  const node = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

const COUNT_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000];
const SECOND_STEPS = [15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400];

/** A round upper bound and tick step (one of `steps`) for values up to `max`, about four ticks. */
function scale(max, steps) {
  const top = Math.max(max, steps[0]);
  const step = steps.find((s) => s * 4 >= top) || steps[steps.length - 1];
  return { top: step * Math.max(1, Math.ceil(top / step)), step };
}

/** Short axis labels for seconds: "30 s", "2 min", "1 h". */
function secondsTick(v) {
  if (v < 120) return `${v} s`;
  if (v < 7200) return `${Math.round(v / 60)} min`;
  return `${Math.round(v / 3600)} h`;
}

export class WaitChart {
  constructor(container, note) {
    this.container = container;
    this.note = note;
    this.idBase = 'chart';
  }

  /** @param {import('./queue-history.js').QueueHistory} history */
  render(history, now = Date.now()) {
    this.note.textContent = history.source === 'server'
      ? 'Chats waiting and the longest wait, per queue, over the last hour.'
      : 'Chats waiting and the longest wait, per queue, since you opened this page (a point every 10 seconds).';
    const series = [...history.series.entries()].map(([id, s], i) => ({ id, ...s, style: i % SERIES_STYLES, dashed: i >= SERIES_STYLES }));
    clear(this.container);
    this.container.append(
      h('div', { class: 'chart-figures' },
        this.#figure('chart-waiting', 'Chats waiting', series, (x) => x.waiting, COUNT_STEPS, String, String, now),
        this.#figure('chart-longest', 'Longest wait', series, (x) => x.longest, SECOND_STEPS, secondsTick, formatDuration, now)),
      this.#legend(series),
      this.#table(series),
    );
  }

  #figure(id, title, series, value, steps, tick, label, now) {
    const from = now - WINDOW_MS;
    const max = Math.max(0, ...series.flatMap((s) => s.samples.map(value)));
    const { top, step } = scale(max, steps);
    const x = (at) => PAD.left + ((at - from) / WINDOW_MS) * (W - PAD.left - PAD.right);
    const y = (v) => H - PAD.bottom - (v / top) * (H - PAD.top - PAD.bottom);

    const summaryId = `${id}-summary`;
    const svg = svgEl('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-labelledby': `${id}-title ${summaryId}`, 'data-testid': id });
    svg.append(svgEl('title', { id: `${id}-title` }, title));
    for (let v = 0; v <= top; v += step) {
      svg.append(svgEl('line', { class: 'grid', x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v) }));
      svg.append(svgEl('text', { class: 'tick', x: PAD.left - 6, y: y(v) + 4, 'text-anchor': 'end' }, tick(v)));
    }
    for (let m = 60; m >= 0; m -= 30) {
      const at = now - m * 60 * 1000;
      svg.append(svgEl('text', { class: 'tick', x: x(at), y: H - 8, 'text-anchor': m === 60 ? 'start' : m === 0 ? 'end' : 'middle' }, clockTime(at)));
    }
    svg.append(svgEl('line', { class: 'axis', x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: H - PAD.bottom }));
    svg.append(svgEl('line', { class: 'axis', x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom }));
    for (const s of series) {
      const points = s.samples.filter((p) => p.at >= from).map((p) => `${x(p.at).toFixed(1)},${y(value(p)).toFixed(1)}`);
      if (!points.length) continue;
      const cls = `series series-${s.style}${s.dashed ? ' series-dash' : ''}`;
      if (points.length === 1) {
        const [px, py] = points[0].split(',');
        svg.append(svgEl('circle', { class: cls, cx: px, cy: py, r: 3 }));
      } else {
        svg.append(svgEl('polyline', { class: cls, points: points.join(' '), 'data-queue-id': s.id }));
      }
    }
    const summary = series.map((s) => {
      const values = s.samples.map(value);
      if (!values.length) return `${s.name}: no data yet.`;
      return `${s.name}: ${label(values[values.length - 1])} now, at most ${label(Math.max(...values))}.`;
    }).join(' ');
    return h('figure', {},
      h('figcaption', { id: `${id}-caption` }, title),
      svg,
      h('p', { id: summaryId, class: 'visually-hidden' }, summary || 'No queues yet.'));
  }

  #legend(series) {
    return h('ul', { class: 'legend', 'aria-label': 'Queues in the charts' },
      series.map((s) => h('li', {},
        h('span', { class: `swatch series-${s.style}`, 'aria-hidden': 'true' }),
        s.dashed ? `${s.name} (dashed)` : s.name)));
  }

  /** The same numbers as a table, newest first, for screen readers. */
  #table(series) {
    const times = [...new Set(series.flatMap((s) => s.samples.map((p) => p.at)))].sort((a, b) => b - a);
    const byQueue = series.map((s) => new Map(s.samples.map((p) => [p.at, p])));
    return h('table', { class: 'visually-hidden', 'data-testid': 'chart-table' },
      h('caption', {}, 'Chats waiting and longest wait per queue, newest first'),
      h('thead', {}, h('tr', {},
        h('th', { scope: 'col' }, 'Time'),
        series.flatMap((s) => [h('th', { scope: 'col' }, `${s.name}: waiting`), h('th', { scope: 'col' }, `${s.name}: longest wait`)]))),
      h('tbody', {}, times.map((at) => h('tr', {},
        h('th', { scope: 'row' }, clockTimeSeconds(at)),
        byQueue.flatMap((m) => {
          const p = m.get(at);
          return [h('td', {}, p ? String(p.waiting) : '—'), h('td', {}, p ? formatDuration(p.longest) : '—')];
        })))));
  }
}
