// The agent's tools with two agents at once: canned responses with `/`, a
// composer prefilled by `agent_input`, a transfer to the other agent, and a
// continued chat showing its earlier conversation in the side panel.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setPresence, routedChat, acceptOffer, chatItem } from './harness.mjs';
import { ANN, useConsoleWorld, signIn, finish } from './console-support.mjs';

const BOB = { name: 'Bob', login: 'bob', password: 'bob-password-1' };

const world = useConsoleWorld({
  agents: [ANN, BOB],
  setup: async ({ server }) => {
    const settings = await server.api('GET', '/settings');
    await server.api('PUT', '/settings', {
      ...settings,
      canned_responses: [
        { id: 'greet', title: 'Greeting', text: 'Hello! How can I help you today?' },
        { id: 'bye', title: 'Goodbye', text: 'Thanks for contacting us. **Have a nice day!**' },
      ],
    });
  },
});

test('canned responses, agent input, a transfer, and an earlier conversation', async () => {
  const { server, browser } = world;
  const bob = world.routing.agents[1];
  const ann = await signIn(world);
  const jane = await routedChat(browser, server, ann.page, { displayName: 'Jane', firstMessage: 'Hello there' });

  // `/gre` lists the greeting; Enter picks it, Enter again sends it.
  const input = ann.page.getByTestId('composer-input');
  await input.fill('/gre');
  await ann.page.getByTestId('canned-option').filter({ hasText: 'Greeting' }).waitFor();
  assert.equal(await ann.page.getByTestId('canned-option').count(), 1);
  await input.press('Enter');
  assert.equal(await input.inputValue(), 'Hello! How can I help you today?');
  await input.press('Enter');
  const greeting = await jane.waitForEvent('message', { content: 'Hello! How can I help you today?' });
  assert.equal(greeting.content_type, 'text/markdown');
  // The Canned button opens the whole list; Escape closes it.
  await ann.page.getByTestId('canned-button').click();
  assert.equal(await ann.page.getByTestId('canned-option').count(), 2);
  await input.press('Escape');
  await ann.page.getByTestId('canned-list').waitFor({ state: 'hidden' });
  // Picked with the mouse, sent as markdown: the emphasis shows as such.
  await ann.page.getByTestId('canned-button').click();
  await ann.page.getByTestId('canned-option').filter({ hasText: 'Goodbye' }).click();
  await input.press('Enter');
  await ann.page.getByTestId('transcript').locator('.from-mine strong').filter({ hasText: 'Have a nice day!' }).waitFor();
  // Typed text is plain.
  await input.fill('**not bold**');
  await input.press('Enter');
  const typed = await jane.waitForEvent('message', { content: '**not bold**' });
  assert.equal(typed.content_type, 'text/plain');

  // Another system prefills the composer.
  await server.api('POST', `/conversations/${jane.conversationId}/agent-input`, { text: 'Your case 500AA1 is open.' });
  await ann.page.waitForFunction(() => document.getElementById('composer-input').value === 'Your case 500AA1 is open.');
  await input.fill('');

  // Transfer to Bob: Ann's chat is no longer hers; Bob is offered it and sees its history.
  const bobConsole = await signIn(world, { agent: BOB });
  await ann.page.getByTestId('action-transfer').click();
  await ann.page.getByTestId('transfer-target').locator(`option[value="agent:${bob.id}"]`).waitFor({ state: 'attached' });
  // Queues are offered too; Ann herself is not.
  await ann.page.getByTestId('transfer-target').locator(`option[value="queue:${world.routing.queue.id}"]`).waitFor({ state: 'attached' });
  assert.equal(await ann.page.getByTestId('transfer-target').locator(`option[value="agent:${world.routing.agents[0].id}"]`).count(), 0);
  await ann.page.getByTestId('transfer-target').selectOption(`agent:${bob.id}`);
  await ann.page.getByTestId('transfer-submit').click();
  await ann.page.getByTestId('chat-banner').filter({ hasText: 'no longer yours' }).waitFor();
  assert.equal(await ann.page.getByTestId('composer-input').isDisabled(), true);
  await acceptOffer(bobConsole.page, jane.conversationId);
  await bobConsole.page.getByTestId('transcript').getByText('Hello! How can I help you today?').waitFor();
  await ann.page.getByTestId('chat-close').click();
  await chatItem(ann.page, jane.conversationId).waitFor({ state: 'detached' });
  await finish(ann);

  // Bob ends it; Jane comes back later: the new chat carries the old one.
  await bobConsole.page.getByTestId('action-end').click();
  await jane.waitForEvent('conversation.ended');
  await bobConsole.page.getByTestId('chat-close').click();
  const ep = await server.entryPointId();
  const again = await server.api('POST', `/entry-points/${ep}/chats`, {
    continue_from: { conversation_id: jane.conversationId, rehydration: 'entire_past_session' },
  }, { token: jane.token });
  await acceptOffer(bobConsole.page, again.conversation.id);
  const segment = bobConsole.page.getByTestId('side-panel').getByTestId('history-segment');
  await segment.waitFor();
  await segment.locator('summary').click();
  await segment.getByText('Hello there').waitFor();
  await segment.getByText('Hello! How can I help you today?').waitFor();
  await finish(bobConsole, jane);
});
