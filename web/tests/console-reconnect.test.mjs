// The console across a server restart: it shows that it is reconnecting,
// comes back by itself, and the chat goes on with nothing lost or repeated.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routedChat } from './harness.mjs';
import { useConsoleWorld, signIn, finish } from './console-support.mjs';

const world = useConsoleWorld();

test('the console reconnects after a server restart and misses nothing', async () => {
  const { server, browser } = world;
  const session = await signIn(world);
  const { page } = session;
  const jane = await routedChat(browser, server, page, { displayName: 'Jane', firstMessage: 'before the restart' });
  const transcript = page.getByTestId('transcript');
  await transcript.getByText('before the restart').waitFor();

  await server.pause();
  await page.getByTestId('connection').filter({ hasText: /Reconnecting|Offline/ }).waitFor();
  // What the agent sends meanwhile waits, shown as sending.
  await page.getByTestId('composer-input').fill('during the outage');
  await page.getByTestId('composer-input').press('Enter');
  await page.getByTestId('pending-message').filter({ hasText: 'during the outage' }).getByText('Sending…').waitFor();

  await server.resume();
  // Messages written while the console was away arrive once it is back.
  await server.api('POST', `/conversations/${jane.conversationId}/messages`, { content: 'while you were away' }, { token: jane.token });
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]').dataset.state === 'open');
  await transcript.getByText('while you were away').waitFor();
  await jane.waitForEvent('message', { content: 'during the outage' });
  await page.getByTestId('pending-message').waitFor({ state: 'detached' });
  await page.getByTestId('composer-input').fill('back again');
  await page.getByTestId('composer-input').press('Enter');
  await transcript.locator('.from-mine').filter({ hasText: 'back again' }).getByTestId('delivery').waitFor();

  const texts = await transcript.getByTestId('message-body').allTextContents();
  assert.equal(texts.filter((t) => t === 'during the outage').length, 1);
  assert.deepEqual(texts.filter((t) => t !== 'during the outage'), ['before the restart', 'while you were away', 'back again']);
  assert.equal(await page.getByTestId('chat-item').count(), 1);
  await finish(session, jane);
});
