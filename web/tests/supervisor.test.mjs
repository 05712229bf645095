// The supervisor view against the real server: a customer waits and an agent
// takes the chat while the board follows live; the routing explanation of a
// waiting chat; monitoring silently (the customer and the agent never see the
// monitor); barging in (both see the supervisor's message); leaving.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ADMIN_KEY, startCustomer, openConsole, setPresence, acceptOffer } from './harness.mjs';
import { serverAndBrowser, openWorkspacePage } from './supervisor-support.mjs';
import { CuttableNetwork } from './widget-support.mjs';

const here = dirname(fileURLToPath(import.meta.url));

let server;
let browser;
serverAndBrowser((world) => ({ server, browser } = world),
  (s) => s.setupRouting({ agents: [{ name: 'Ann', login: 'ann', password: 'ann-password-1', capacity: 2 }] }));

const queueRow = (page, name) => page.getByTestId('queue-row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });
const chatRow = (page, id) => page.locator(`[data-testid="chat-row"][data-conversation-id="${id}"]`);
const agentRow = (page, name) => page.getByTestId('agent-row').filter({ has: page.getByRole('rowheader', { name, exact: true }) });

test('a wrong key is refused at sign-in, and signing out forgets the key', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/supervisor/`);
  await page.getByTestId('login-token').fill('sbk_not-a-real-key');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').filter({ hasText: 'This key is not valid' }).waitFor();
  assert.equal(await page.getByTestId('app-view').isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.equal(await page.getByLabel('Workspace key').getAttribute('type'), 'password');
  await context.close();

  const { page: signedIn, context: ctx2 } = await openWorkspacePage(browser, server, 'supervisor');
  await signedIn.waitForFunction(() => document.querySelector('[data-testid="connection"]').dataset.state === 'open');
  // A reload stays signed in (the key is kept for the tab), and so does going
  // to the admin pages and back.
  await signedIn.reload();
  await signedIn.getByTestId('app-view').waitFor({ state: 'visible' });
  await signedIn.getByRole('link', { name: 'Admin' }).click();
  await signedIn.getByTestId('section-entry-points').waitFor({ state: 'visible' });
  await signedIn.getByRole('link', { name: 'Supervisor' }).click();
  await signedIn.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.dataset.state === 'open');
  await signedIn.getByTestId('logout-button').click();
  await signedIn.getByTestId('login-view').waitFor({ state: 'visible' });
  assert.equal(await signedIn.evaluate(() => sessionStorage.length), 0);
  // Signing in again in the same page starts afresh.
  await signedIn.getByTestId('login-token').fill(ADMIN_KEY);
  await signedIn.getByTestId('login-submit').click();
  await signedIn.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.dataset.state === 'open');
  await ctx2.close();
});

test('the board follows a waiting chat and an agent taking it; monitor and barge in', async () => {
  const sup = await openWorkspacePage(browser, server, 'supervisor');
  const { page } = sup;
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]').dataset.state === 'open');
  const general = queueRow(page, 'general');
  await general.getByTestId('queue-waiting').filter({ hasText: /^0$/ }).waitFor();
  await agentRow(page, 'Ann').getByTestId('agent-activity').filter({ hasText: 'offline' }).waitFor();

  // A customer writes while nobody is available: the chat waits.
  const jane = await startCustomer(browser, server, { displayName: 'Jane' });
  await jane.send('Hello, is anyone there?');
  await general.getByTestId('queue-waiting').filter({ hasText: /^1$/ }).waitFor();
  const row = chatRow(page, jane.conversationId);
  await row.getByTestId('chat-state').filter({ hasText: 'Waiting' }).waitFor();
  await row.getByTestId('chat-customer').filter({ hasText: 'Jane' }).waitFor();
  assert.equal(await row.getByTestId('chat-queue').textContent(), 'general');
  assert.match(await general.getByTestId('queue-longest').textContent(), /\d+ s$/);

  // Why it waits: Ann is there but offline.
  await row.getByTestId('chat-explain').click();
  const dialog = page.getByTestId('explain-dialog');
  await dialog.getByTestId('explain-verdict').filter({ hasText: 'Nobody can take this chat now' }).waitFor();
  const skipped = dialog.getByTestId('explain-skipped');
  assert.match(await skipped.getByRole('row', { name: /Ann/ }).textContent(), /Not receiving chats \(offline\)/);
  await dialog.getByRole('button', { name: 'Close' }).click();
  await dialog.waitFor({ state: 'hidden' });

  // Ann comes online and takes it: the board changes on its own.
  const agent = await openConsole(browser, server, { login: 'ann', password: 'ann-password-1' });
  await setPresence(agent.page, 'available');
  await agentRow(page, 'Ann').getByTestId('agent-activity').filter({ hasText: 'available' }).waitFor();
  await acceptOffer(agent.page, jane.conversationId);
  await row.getByTestId('chat-state').filter({ hasText: 'With an agent' }).waitFor();
  assert.equal(await row.getByTestId('chat-agent').textContent(), 'Ann');
  await general.getByTestId('queue-waiting').filter({ hasText: /^0$/ }).waitFor();
  await general.getByTestId('queue-assigned').filter({ hasText: /^1$/ }).waitFor();
  await agentRow(page, 'Ann').getByTestId('agent-load').filter({ hasText: '1 / 2' }).waitFor();
  assert.equal(await row.getByTestId('chat-explain').isVisible(), false);

  // Monitor: the panel shows the chat so far and what follows.
  await row.getByTestId('chat-monitor').click();
  const panel = page.getByTestId('monitor');
  await panel.getByTestId('monitor-mode').filter({ hasText: 'Monitoring silently' }).waitFor();
  await panel.getByTestId('monitor-message').filter({ hasText: 'Hello, is anyone there?' }).waitFor();
  assert.equal(await panel.getByTestId('monitor-composer').isVisible(), false);
  await page.getByTestId('monitor-state').filter({ hasText: 'Live' }).waitFor();
  await page.getByTestId('monitor-people').filter({ hasText: 'In the chat: Jane (customer), Ann (agent).' }).waitFor();
  await agent.page.getByTestId('composer-input').fill('Hi Jane, Ann here.');
  await agent.page.getByTestId('composer-input').press('Enter');
  await panel.getByTestId('monitor-message').filter({ hasText: 'Hi Jane, Ann here.' }).waitFor();
  await jane.send('My parcel is late.');
  await panel.getByTestId('monitor-message').filter({ hasText: 'My parcel is late.' }).waitFor();
  await agent.page.getByTestId('transcript').getByTestId('message').filter({ hasText: 'My parcel is late.' }).waitFor();

  // Neither side saw the monitor join: the monitor is in the chat's
  // participants, but no event about it reached the customer or the console.
  const people = await server.api('GET', `/conversations/${jane.conversationId}/participants`);
  const monitor = people.find((p) => p.role === 'monitor' && !p.left_at);
  assert.ok(monitor, 'the monitor is a participant');
  const janeEvents = await jane.events();
  assert.equal(janeEvents.some((e) => e.member_id === monitor.id || e.participant_id === monitor.id), false);
  assert.equal(await agent.page.getByTestId('transcript').getByText('Supervisor').count(), 0);

  await mkdir(join(here, 'screenshots'), { recursive: true });
  await page.screenshot({ path: join(here, 'screenshots', 'supervisor.png'), fullPage: true });

  // Barge in from the panel: the monitor leaves, a visible supervisor joins.
  await panel.getByTestId('monitor-barge').click();
  await panel.getByTestId('monitor-mode').filter({ hasText: 'Barged in' }).waitFor();
  await jane.waitForEvent('participant.joined', { role: 'supervisor', display_name: 'Supervisor' });
  await panel.getByTestId('monitor-input').fill('Supervisor here: we are on it.');
  await panel.getByTestId('monitor-input').press('Enter');
  const said = await jane.waitForEvent('message', { content: 'Supervisor here: we are on it.' });
  await agent.page.getByTestId('transcript').getByTestId('message').filter({ hasText: 'Supervisor here: we are on it.' }).waitFor();
  await panel.getByTestId('monitor-message').filter({ hasText: 'Supervisor here: we are on it.' }).getByText('You').waitFor();
  const afterBarge = await server.api('GET', `/conversations/${jane.conversationId}/participants`);
  assert.ok(afterBarge.find((p) => p.id === monitor.id).left_at, 'the monitor left when barging in');
  const supervisor = afterBarge.find((p) => p.role === 'supervisor' && !p.left_at);
  assert.equal(said.participant_id, supervisor.id);

  // Leaving removes the supervisor (the customer sees it leave) and closes the panel.
  await panel.getByTestId('monitor-leave').click();
  await panel.waitFor({ state: 'hidden' });
  await jane.waitForEvent('participant.left', { member_id: supervisor.id });
  // The chat itself goes on between the customer and the agent.
  await row.getByTestId('chat-state').filter({ hasText: 'With an agent' }).waitFor();

  assert.deepEqual(sup.unexpected(), []);
  assert.deepEqual(agent.problems, []);
  await jane.close();
  await agent.context.close();
  await sup.context.close();
});

test('a missed first reply shows as an alert at once', async () => {
  const [queue] = await server.api('GET', '/queues');
  await server.api('PATCH', `/queues/${queue.id}`, { first_reply_secs: 1, on_reply_timeout: 'alert' });
  const sup = await openWorkspacePage(browser, server, 'supervisor');
  const { page } = sup;
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]').dataset.state === 'open');
  const agent = await openConsole(browser, server, { login: 'ann', password: 'ann-password-1' });
  await setPresence(agent.page, 'available');
  const joe = await startCustomer(browser, server, { displayName: 'Joe' });
  await joe.send('Hello?');
  await chatRow(page, joe.conversationId).getByTestId('chat-customer').filter({ hasText: 'Joe' }).waitFor();
  await acceptOffer(agent.page, joe.conversationId);
  // Ann does not answer within a second.
  const alert = page.locator(`[data-testid="alert"][data-conversation-id="${joe.conversationId}"]`);
  await alert.waitFor();
  assert.match(await alert.textContent(), /Ann missed the first reply to Joe \(general, after 1 s\): the agent keeps the chat\./);
  await alert.getByRole('button', { name: /Dismiss/ }).click();
  await page.getByTestId('alerts').waitFor({ state: 'hidden' });
  await server.api('PATCH', `/queues/${queue.id}`, { first_reply_secs: null });
  assert.deepEqual(sup.unexpected(), []);
  await joe.close();
  await agent.context.close();
  await sup.context.close();
});

test('the board says when its socket is down, reconnects by itself and catches up', async () => {
  const network = new CuttableNetwork();
  const sup = await openWorkspacePage(browser, server, 'supervisor', { prepare: (context) => network.install(context) });
  const { page } = sup;
  const connection = page.getByTestId('connection');
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]').dataset.state === 'open');
  await network.down();
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]').dataset.state === 'reconnecting');
  assert.match(await connection.textContent(), /Reconnecting/);

  // A chat starts while the board is cut off; it shows once the socket is back.
  const kim = await startCustomer(browser, server, { displayName: 'Kim' });
  await kim.send('Anyone?');
  await network.up();
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]').dataset.state === 'open', null, { timeout: 60000 });
  await chatRow(page, kim.conversationId).getByTestId('chat-customer').filter({ hasText: 'Kim' }).waitFor();
  await kim.close();
  await sup.context.close();
});
