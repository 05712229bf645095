// One agent, three chats at once: unread counts on the chats not shown,
// switching, read receipts for the open chat only, drafts kept per chat.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routedChat, chatItem } from './harness.mjs';
import { ANN, useConsoleWorld, signIn, finish } from './console-support.mjs';

const DEE = { name: 'Dee', login: 'dee', password: 'dee-password-1', capacity: 3 };

const world = useConsoleWorld({ agents: [{ ...ANN, capacity: 3 }, DEE] });

test('an agent handles three chats at once', async () => {
  const { server, browser } = world;
  const session = await signIn(world);
  const { page } = session;
  const alice = await routedChat(browser, server, page, { displayName: 'Alice' });
  const bob = await routedChat(browser, server, page, { displayName: 'Bob' });
  const carol = await routedChat(browser, server, page, { displayName: 'Carol' });
  await page.getByTestId('chat-item').nth(2).waitFor();
  assert.equal(await page.getByTestId('chat-item').count(), 3);
  // The chat accepted last is open.
  assert.equal(await page.getByTestId('chat-title').textContent(), 'Carol');

  // Messages to the chats not shown count as unread; the open one does not.
  const aliceOne = await alice.send('Alice one');
  const aliceTwo = await alice.send('Alice two');
  await bob.send('Bob one');
  const carolMsg = await carol.send('Carol one');
  await chatItem(page, alice.conversationId).getByTestId('unread-count').filter({ hasText: '2' }).waitFor();
  await chatItem(page, bob.conversationId).getByTestId('unread-count').filter({ hasText: '1' }).waitFor();
  // The tab's title counts what waits.
  await page.waitForFunction(() => document.title === '(3) Switchboard — agent console');
  await page.getByTestId('transcript').getByTestId('message').filter({ hasText: 'Carol one' }).waitFor();
  await carol.waitForEvent('message.read', { message_id: carolMsg.id });
  assert.equal(await chatItem(page, carol.conversationId).getByTestId('unread-count').count(), 0);
  assert.equal(await page.getByTestId('transcript').getByText('Alice one').count(), 0);
  // Alice's messages are not marked read while her chat is not shown.
  // …but they reached the console: delivered.
  await alice.waitForEvent('message.delivered', { message_id: aliceTwo.id });
  assert.equal((await alice.events()).some((e) => e.type === 'message.read'
    && [aliceOne.id, aliceTwo.id].includes(e.message_id)), false);

  // A draft stays with its chat.
  await page.getByTestId('composer-input').fill('draft for Carol');

  // Opening Alice's chat shows her messages, clears her count, tells her they were read.
  await chatItem(page, alice.conversationId).getByRole('button').click();
  assert.equal(await page.getByTestId('chat-title').textContent(), 'Alice');
  await page.getByTestId('transcript').getByTestId('message').filter({ hasText: 'Alice two' }).waitFor();
  await chatItem(page, alice.conversationId).getByTestId('unread-count').waitFor({ state: 'detached' });
  await alice.waitForEvent('message.read', { message_id: aliceTwo.id });
  assert.equal(await page.getByTestId('composer-input').inputValue(), '');
  assert.equal(await chatItem(page, bob.conversationId).getByTestId('unread-count').textContent(), '1');
  assert.equal(await chatItem(page, alice.conversationId).getByTestId('unread-count').count(), 0);

  // A reply goes to Alice only.
  await page.getByTestId('composer-input').fill('Hi Alice');
  await page.getByTestId('composer-input').press('Enter');
  await alice.waitForEvent('message', { content: 'Hi Alice' });
  assert.equal((await bob.events()).some((e) => e.content === 'Hi Alice'), false);

  // Back to Carol: her draft is there.
  await chatItem(page, carol.conversationId).getByRole('button').click();
  assert.equal(await page.getByTestId('composer-input').inputValue(), 'draft for Carol');

  // Keyboard: the chat list is reachable and its buttons name the unread count.
  const bobButton = page.getByRole('button', { name: /^Bob .* 1 unread$/ });
  assert.equal(await bobButton.count(), 1);
  await bobButton.focus();
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.getElementById('chat-title').textContent === 'Bob');
  // Alt+↓ / Alt+↑ step through the chats (in list order, wrapping), into the composer.
  const order = await page.getByTestId('chat-name').allTextContents();
  const at = order.indexOf('Bob');
  await page.keyboard.press('Alt+ArrowDown');
  assert.equal(await page.getByTestId('chat-title').textContent(), order[(at + 1) % order.length]);
  assert.equal(await page.evaluate(() => document.activeElement.id), 'composer-input');
  await page.keyboard.press('Alt+ArrowUp');
  assert.equal(await page.getByTestId('chat-title').textContent(), 'Bob');

  await finish(session, alice, bob, carol);
});

test('messages shown while the tab is hidden stay unread until it is visible again', async () => {
  // Dee: Ann is full with the chats above.
  const { server, browser } = world;
  const session = await signIn(world, { agent: DEE });
  const { page } = session;
  const dan = await routedChat(browser, server, page, { displayName: 'Dan' });
  await dan.waitForEvent('message.read', { message_id: dan.firstMessage.id });

  // The tab goes to the background (as the browser reports it).
  await page.evaluate(() => {
    Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
    document.dispatchEvent(new Event('visibilitychange'));
  });
  const hiddenMessage = await dan.send('are you there?');
  await page.getByTestId('transcript').getByText('are you there?').waitFor();
  await chatItem(page, dan.conversationId).getByTestId('unread-count').filter({ hasText: '1' }).waitFor();
  assert.equal((await dan.events()).some((e) => e.type === 'message.read' && e.message_id === hiddenMessage.id), false);

  // Back in front: the message is read, and the customer is told.
  await page.evaluate(() => {
    delete document.visibilityState;
    document.dispatchEvent(new Event('visibilitychange'));
  });
  await dan.waitForEvent('message.read', { message_id: hiddenMessage.id });
  await chatItem(page, dan.conversationId).getByTestId('unread-count').waitFor({ state: 'detached' });
  await finish(session, dan);
});
