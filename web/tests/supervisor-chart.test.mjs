// The last-hour chart, drawn from known numbers: one line per queue on each
// of the two charts, axes labelled, a text summary and the same numbers in a
// table for screen readers; points older than an hour are dropped.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, axeProblems } from './supervisor-support.mjs';

let server;
let browser;
serverAndBrowser((world) => ({ server, browser } = world));

test('two queues over the last hour: lines, axes, summary and table', async () => {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 } });
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/supervisor/`);
  await page.getByTestId('login-form').waitFor();
  const result = await page.evaluate(async () => {
    const { QueueHistory } = await import('/assets/supervisor/queue-history.js');
    const { WaitChart } = await import('/assets/supervisor/wait-chart.js');
    document.getElementById('login-view').hidden = true;
    document.getElementById('app-view').hidden = false;
    const history = new QueueHistory();
    const now = Date.now();
    const minute = 60 * 1000;
    // Billing builds up over the hour; general stays calm. One point is too old.
    history.observe([{ queue_id: 'q1', name: 'billing', waiting: 9, offered: 0, longest_wait_secs: 999 }]);
    history.sample(now - 70 * minute);
    for (let m = 60; m >= 0; m -= 5) {
      history.observe([
        { queue_id: 'q1', name: 'billing', waiting: Math.round((60 - m) / 10), offered: 0, longest_wait_secs: (60 - m) * 6 },
        { queue_id: 'q2', name: 'general', waiting: 1, offered: 0, longest_wait_secs: 20 },
      ]);
      history.sample(now - m * minute);
    }
    new WaitChart(document.getElementById('chart'), document.getElementById('chart-note')).render(history, now);
    const lines = (id) => [...document.querySelectorAll(`[data-testid="${id}"] polyline`)].map((p) => p.getAttribute('points').split(' ').length);
    return {
      waitingLines: lines('chart-waiting'),
      longestLines: lines('chart-longest'),
      waitingTicks: [...document.querySelectorAll('[data-testid="chart-waiting"] text')].map((t) => t.textContent),
      longestTicks: [...document.querySelectorAll('[data-testid="chart-longest"] text')].map((t) => t.textContent),
      summary: document.getElementById('chart-waiting-summary').textContent,
      rows: document.querySelectorAll('[data-testid="chart-table"] tbody tr').length,
      head: [...document.querySelectorAll('[data-testid="chart-table"] thead th')].map((t) => t.textContent),
      firstRow: [...document.querySelector('[data-testid="chart-table"] tbody tr').children].map((c) => c.textContent),
    };
  });
  assert.deepEqual(result.waitingLines, [13, 13]); // the 70-minute-old point is gone
  assert.deepEqual(result.longestLines, [13, 13]);
  assert.deepEqual(result.waitingTicks.slice(0, 4), ['0', '2', '4', '6']);
  assert.ok(result.longestTicks.includes('6 min'), result.longestTicks.join(','));
  assert.equal(result.waitingTicks.length - 4, 3); // three time labels, every half hour
  assert.equal(result.summary, 'billing: 6 now, at most 6. general: 1 now, at most 1.');
  assert.equal(result.rows, 13);
  assert.deepEqual(result.head, ['Time', 'billing: waiting', 'billing: longest wait', 'general: waiting', 'general: longest wait']);
  assert.deepEqual(result.firstRow.slice(1), ['6', '6 min 00 s', '1', '20 s']);
  assert.deepEqual(await axeProblems(page), []);
  await context.close();
});
