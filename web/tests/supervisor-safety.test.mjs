// The supervisor view's safety and accessibility: what customers write (and
// their names) never runs as code in the board or the monitor panel, even
// with the page's CSP switched off; axe-core finds no serious or critical
// problem on the sign-in form, the busy board, the monitor panel and the
// routing explanation.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCustomer } from './harness.mjs';
import { serverAndBrowser, openWorkspacePage, axeProblems } from './supervisor-support.mjs';

let server;
let browser;
serverAndBrowser((world) => ({ server, browser } = world),
  (s) => s.setupRouting({ agents: [{ name: 'Ann', login: 'ann', password: 'ann-password-1' }] }));

test('messages and names from a customer never run in the board nor the monitor panel', async () => {
  // CSP off: only the page's own care keeps these inert.
  const sup = await openWorkspacePage(browser, server, 'supervisor', { bypassCSP: true });
  const { page } = sup;
  const evil = await startCustomer(browser, server, { displayName: '<img src=x onerror="window.__pwned=\'name\'">' });
  await evil.send('<img src=x onerror="window.__pwned=\'plain\'">');
  await evil.send('[click me](javascript:window.__pwned=\'link\') and <img src=x onerror="window.__pwned=\'md\'"><script>window.__pwned=\'script\'</script>', { contentType: 'text/markdown' });
  await evil.send('{"html":"<img src=x onerror=window.__pwned=1>"}', { contentType: 'application/json' });

  const row = page.locator(`[data-testid="chat-row"][data-conversation-id="${evil.conversationId}"]`);
  await row.getByTestId('chat-customer').filter({ hasText: '<img src=x onerror' }).waitFor();
  await row.getByTestId('chat-monitor').click();
  const panel = page.getByTestId('monitor');
  const messages = panel.getByTestId('monitor-message');
  await messages.filter({ hasText: '<img src=x onerror="window.__pwned=\'plain\'">' }).waitFor();
  const markdown = messages.filter({ hasText: 'click me' });
  await markdown.waitFor();
  await messages.filter({ hasText: '"html"' }).waitFor();
  assert.match(await page.getByRole('heading', { level: 2, name: /Chat with/ }).textContent(), /<img src=x/);

  // No element came out of anyone's text: no image, no script; the
  // javascript: link has no address, and clicking it does nothing.
  assert.equal(await page.locator('#app-view img, #app-view script').count(), 0);
  const link = markdown.getByText('click me');
  const href = await link.getAttribute('href');
  assert.ok(href === null || !/^javascript:/i.test(href), `href ${href}`);
  await link.click();
  await page.getByTestId('monitor-state').filter({ hasText: 'Live' }).waitFor();
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  assert.deepEqual(sup.unexpected(), []);
  await panel.getByTestId('monitor-leave').click();
  await panel.waitFor({ state: 'hidden' });
  await evil.close();
  await sup.context.close();
});

test('the sign-in form, the busy board, the monitor panel and the explanation pass axe', async () => {
  const context = await browser.newContext();
  const login = await context.newPage();
  await login.goto(`${server.baseUrl}/supervisor/`);
  await login.getByTestId('login-form').waitFor();
  await login.getByTestId('login-submit').click();
  await login.getByTestId('login-error').filter({ hasText: 'Enter the key.' }).waitFor();
  assert.deepEqual(await axeProblems(login), []);
  await context.close();

  const sup = await openWorkspacePage(browser, server, 'supervisor');
  const { page } = sup;
  const jane = await startCustomer(browser, server, { displayName: 'Jane Doe' });
  await jane.send('Hello, **anyone** there?', { contentType: 'text/markdown' });
  const row = page.locator(`[data-testid="chat-row"][data-conversation-id="${jane.conversationId}"]`);
  await row.getByTestId('chat-customer').filter({ hasText: 'Jane Doe' }).waitFor();
  await page.getByTestId('agent-row').first().waitFor();
  await page.getByTestId('chart').locator('svg').first().waitFor();
  assert.deepEqual(await axeProblems(page), []);

  await row.getByTestId('chat-barge').click();
  await page.getByTestId('monitor-message').filter({ hasText: 'anyone' }).waitFor();
  await page.getByTestId('monitor-composer').waitFor();
  assert.deepEqual(await axeProblems(page), []);

  await row.getByTestId('chat-explain').click();
  await page.getByTestId('explain-skipped').waitFor();
  assert.deepEqual(await axeProblems(page), []);
  await page.getByTestId('explain-dialog').getByRole('button', { name: 'Close' }).click();

  // The chart's numbers are there for screen readers as a table.
  const table = page.getByTestId('chart-table');
  assert.match(await table.locator('caption').textContent(), /Chats waiting and longest wait/);
  assert.ok(await table.locator('tbody tr').count() >= 1);
  assert.deepEqual(sup.unexpected(), []);
  await page.getByTestId('monitor-leave').click();
  await jane.close();
  await sup.context.close();
});
