// The agent console against the real server: sign-in, presence, a chat routed
// to the agent as an offer, answering it, receipts, typing, refresh, sign-out.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCustomer, setPresence, acceptOffer } from './harness.mjs';
import { useConsoleWorld, signIn, finish } from './console-support.mjs';

const world = useConsoleWorld({
  args: ['--sends-per-second', '0'], // the long chat below is sent at once
  setup: ({ server }) => server.api('POST', '/activities', { name: 'lunch', available: false }),
});

test('a wrong password is refused with a clear message', async () => {
  const { server, browser } = world;
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/console/`);
  await page.getByTestId('login-name').fill('ann');
  await page.getByTestId('login-password').fill('not-the-password');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').filter({ hasText: 'Wrong login or password.' }).waitFor();
  assert.equal(await page.getByTestId('app-view').isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  await context.close();
});

test('a chat is offered to the agent, accepted, answered, with receipts and typing', async () => {
  const { server, browser } = world;
  const agent = await signIn(world);
  const { page } = agent;

  const jane = await startCustomer(browser, server, { displayName: 'Jane' });
  const first = await jane.send('Hi, my invoice is wrong');

  // The offer: its queue and a countdown to expires_at.
  const offer = page.locator(`[data-testid="offer"][data-conversation-id="${jane.conversationId}"]`);
  await offer.waitFor();
  assert.match(await offer.getByTestId('offer-queue').textContent(), /general/);
  assert.match(await offer.getByTestId('offer-countdown').textContent(), /Expires in \d+ s/);
  await page.getByTestId('announcer').filter({ hasText: 'New chat offer from queue general' }).waitFor({ state: 'attached' });

  await acceptOffer(page, jane.conversationId);
  const transcript = page.getByTestId('transcript');
  await transcript.getByTestId('message').filter({ hasText: 'Hi, my invoice is wrong' }).waitFor();
  assert.equal(await page.getByTestId('chat-title').textContent(), 'Jane');

  // The open, visible chat sends a read receipt for what it shows.
  await jane.waitForEvent('message.read', { message_id: first.id });

  // Enter sends; Shift+Enter is a newline.
  const input = page.getByTestId('composer-input');
  await input.fill('Hello Jane,');
  await input.press('Shift+Enter');
  await input.type('let me check.');
  await input.press('Enter');
  const reply = await jane.waitForEvent('message', { content: 'Hello Jane,\nlet me check.' });
  assert.equal(await input.inputValue(), '');
  const mine = transcript.locator(`[data-event-id="${reply.id}"]`);
  await mine.getByTestId('delivery').filter({ hasText: 'Sent' }).waitFor();

  // The customer reads it: the console shows it read.
  await jane.page.evaluate((id) => window.__chat.markRead(id), reply.id);
  await mine.getByTestId('delivery').filter({ hasText: 'Read' }).waitFor();

  // Typing from the customer shows, and goes when the message comes.
  await jane.typing('I was charged tw');
  await page.getByTestId('typing').filter({ hasText: 'Jane is typing' }).waitFor();
  await jane.send('I was charged twice');
  await page.getByTestId('typing').waitFor({ state: 'hidden' });
  await transcript.getByTestId('message').filter({ hasText: 'I was charged twice' }).waitFor();

  // A refresh stays signed in and shows the chat with its history.
  await page.reload();
  await page.getByTestId('app-view').waitFor({ state: 'visible' });
  assert.equal(await page.getByTestId('login-view').isVisible(), false);
  await page.locator(`[data-testid="chat-item"][data-conversation-id="${jane.conversationId}"]`).waitFor();
  await page.getByTestId('transcript').getByTestId('message').filter({ hasText: 'Hi, my invoice is wrong' }).waitFor();
  await page.getByTestId('transcript').getByTestId('message').filter({ hasText: 'I was charged twice' }).waitFor();

  // Presence set elsewhere is pushed to the console.
  const [ann] = world.routing.agents;
  await server.api('PUT', `/agents/${ann.id}/activity`, { activity: 'away' });
  await page.waitForFunction(() => document.getElementById('presence-select').value === 'away');

  // Ending the chat: wrap-up state until the agent closes it.
  await page.getByTestId('action-end').click();
  await page.getByTestId('chat-banner').filter({ hasText: 'ended' }).waitFor();
  assert.equal(await page.getByTestId('composer-input').isDisabled(), true);
  await jane.waitForEvent('conversation.ended');
  await page.getByTestId('chat-close').click();
  await page.locator(`[data-testid="chat-item"][data-conversation-id="${jane.conversationId}"]`).waitFor({ state: 'detached' });

  // Signing out forgets the token.
  await page.getByTestId('logout-button').click();
  await page.getByTestId('login-view').waitFor({ state: 'visible' });
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.deepEqual(agent.problems, []);

  await jane.close();
  await agent.context.close();
});

test('the typing frame’s preview text is shown as a sneak peek', async () => {
  const { server, browser } = world;
  const agent = await signIn(world);
  const { page } = agent;
  const joe = await startCustomer(browser, server, { displayName: 'Joe' });
  await joe.send('hello');
  await acceptOffer(page, joe.conversationId);
  await joe.typing('my order number is 12');
  await page.getByTestId('typing-peek').filter({ hasText: 'my order number is 12' }).waitFor();
  await finish(agent, joe);
});

test('the workspace’s activities are offered, and a declined offer goes away', async () => {
  const { server, browser } = world;
  const agent = await signIn(world, { available: false });
  const { page } = agent;
  await page.getByTestId('presence-select').locator('option[value="lunch"]').waitFor({ state: 'attached' });
  await setPresence(page, 'lunch');
  const [ann] = world.routing.agents;
  assert.equal((await server.api('GET', `/agents/${ann.id}`)).activity, 'lunch');
  await setPresence(page, 'available');

  const sam = await startCustomer(browser, server, { displayName: 'Sam' });
  await sam.send('anyone?');
  const offer = page.locator(`[data-testid="offer"][data-conversation-id="${sam.conversationId}"]`).first();
  await offer.waitFor();
  const offerId = await offer.getAttribute('data-offer-id');
  await offer.getByTestId('offer-decline').click();
  await page.locator(`[data-testid="offer"][data-offer-id="${offerId}"]`).waitFor({ state: 'detached' });
  // The chat may come back to the only agent; going offline makes any offer lapse at once.
  await setPresence(page, 'offline');
  await page.locator('[data-testid="offer"]').first().waitFor({ state: 'detached' });
  assert.equal(await page.getByTestId('offers').locator('[data-testid="offer"]').count(), 0);
  await finish(agent, sam);
});

test('a long chat’s history pages upward after a refresh', async () => {
  const { server, browser } = world;
  const agent = await signIn(world, { available: false });
  const { page } = agent;
  // Signing out and in again leaves one console behind, not two.
  await page.getByTestId('logout-button').click();
  await page.getByTestId('login-view').waitFor({ state: 'visible' });
  await page.getByTestId('login-name').fill('ann');
  await page.getByTestId('login-password').fill('ann-password-1');
  await page.getByTestId('login-submit').click();
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.dataset.state === 'open');
  await setPresence(page, 'available');
  const kim = await startCustomer(browser, server, { displayName: 'Kim' });
  await kim.send('message 1');
  await acceptOffer(page, kim.conversationId);
  await setPresence(page, 'offline');
  let last;
  for (let i = 2; i <= 70; i += 1) {
    last = await server.api('POST', `/conversations/${kim.conversationId}/messages`, { content: `message ${i}` }, { token: kim.token });
  }
  await page.getByTestId('transcript').getByText('message 70', { exact: true }).waitFor();
  // Receipts are events too: with more of them after the last message than a
  // page holds (as when a loaded server commits the console's receipts late),
  // the newest page has no message, and the console must read on.
  const { token: agentToken } = await server.api('POST', '/agents/login', { login: 'ann', password: 'ann-password-1' }, { token: '' });
  for (let i = 0; i < 60; i += 1) {
    await server.api('POST', `/conversations/${kim.conversationId}/events`, { type: 'read', message_id: last.id }, { token: agentToken });
  }
  await page.reload();
  await page.locator(`[data-testid="chat-item"][data-conversation-id="${kim.conversationId}"] button`).click();
  const transcript = page.getByTestId('transcript');
  await transcript.getByText('message 70', { exact: true }).waitFor();
  assert.equal(await transcript.getByText('message 1', { exact: true }).count(), 0);
  // Each click loads one more page (receipts count too), until the first event.
  for (let pages = 0; await page.getByTestId('load-older').isVisible(); pages += 1) {
    assert.ok(pages < 5, 'the history should take a few pages');
    await page.getByTestId('load-older').click();
    await page.waitForFunction(() => !document.getElementById('load-older').disabled);
  }
  await transcript.getByText('message 1', { exact: true }).waitFor();
  // Every message is shown once, in order.
  const texts = await transcript.getByTestId('message-body').allTextContents();
  assert.deepEqual(texts, Array.from({ length: 70 }, (_, i) => `message ${i + 1}`));
  // Reading up there, a new message does not pull the view down but says it came.
  await transcript.evaluate((t) => { t.scrollTop = 0; });
  const m71 = await server.api('POST', `/conversations/${kim.conversationId}/messages`, { content: 'message 71' }, { token: kim.token });
  // Not shown, so not read yet.
  await page.locator(`[data-testid="chat-item"][data-conversation-id="${kim.conversationId}"]`)
    .getByTestId('unread-count').filter({ hasText: '1' }).waitFor();
  await page.getByTestId('jump-new').click();
  await kim.waitForEvent('message.read', { message_id: m71.id });
  await transcript.getByText('message 71', { exact: true }).waitFor();
  await page.waitForFunction(() => {
    const t = document.getElementById('transcript');
    return t.scrollHeight - t.scrollTop - t.clientHeight < 80;
  });
  await page.getByTestId('jump-new').waitFor({ state: 'hidden' });
  await finish(agent, kim);
});

test('a revoked token sends the agent back to the sign-in form, saying why', async () => {
  const { server } = world;
  const agent = await signIn(world, { available: false });
  const { page } = agent;
  await server.api('DELETE', `/agents/${world.routing.agents[0].id}/tokens`);
  await page.getByTestId('login-error').filter({ hasText: 'Your session has ended. Sign in again.' }).waitFor();
  assert.equal(await page.getByTestId('app-view').isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('switchboard.console.token')), null);
  await agent.context.close();
});

test('a new offer plays a tone and shows a notification', async () => {
  const { server, browser } = world;
  // Record what the page asks of WebAudio and of notifications.
  const agent = await signIn(world, {
    available: false,
    prepare: async (context) => {
      await context.grantPermissions(['notifications'], { origin: server.baseUrl });
      await context.addInitScript(() => {
        window.__tones = 0;
        window.__notes = [];
        const start = OscillatorNode.prototype.start;
        OscillatorNode.prototype.start = function (...args) { window.__tones += 1; return start.apply(this, args); };
        window.Notification = class extends EventTarget {
          static permission = 'granted';
          static requestPermission() { return Promise.resolve('granted'); }
          constructor(title, options) { super(); window.__notes.push({ title, body: options?.body }); }
          close() {}
        };
      });
    },
  });
  const { page } = agent;
  // Behind another window: the notification is for then.
  await page.evaluate(() => { document.hasFocus = () => false; });
  await setPresence(page, 'available');
  const lee = await startCustomer(browser, server, { displayName: 'Lee' });
  await lee.send('hi');
  // (A chat from an earlier test may come first: any offer will do.)
  await page.getByTestId('offer').first().waitFor();
  await page.waitForFunction(() => window.__tones > 0 && window.__notes.some((n) => n.title === 'New chat offer'));
  await finish(agent, lee);
});
