// The whole path in browsers: a customer in the widget embedded in a site,
// an agent in the console. The chat is offered, accepted, answered both
// ways, and ended by the agent.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { acceptOffer } from './harness.mjs';
import { startHostPage, openWidget, storedChat } from './widget-support.mjs';
import { useConsoleWorld, signIn, finish } from './console-support.mjs';

let host;
const world = useConsoleWorld({
  setup: async ({ server, routing }) => { host = await startHostPage(server, routing.entryPointId); },
});
after(() => host?.close());

test('a widget customer and a console agent chat', async () => {
  const { browser, routing: { entryPointId } } = world;
  const agent = await signIn(world);
  const widget = await openWidget(browser, host, { name: 'Wendy' });
  const input = widget.frame.getByTestId('composer-input');
  await input.fill('Hi from the widget');
  await input.press('Enter');
  const { conversationId } = await storedChat(widget.frame, entryPointId);
  assert.match(conversationId, /^cnv_/);

  await acceptOffer(agent.page, conversationId);
  assert.equal(await agent.page.getByTestId('chat-title').textContent(), 'Wendy');
  await agent.page.getByTestId('transcript').getByText('Hi from the widget').waitFor();

  await agent.page.getByTestId('composer-input').fill('Hello Wendy, how can I help?');
  await agent.page.getByTestId('composer-input').press('Enter');
  await widget.frame.getByTestId('messages').getByText('Hello Wendy, how can I help?').waitFor();

  // The widget's receipts reach the console's delivery marks.
  const mine = agent.page.getByTestId('transcript').locator('.from-mine').filter({ hasText: 'Hello Wendy' });
  await mine.getByTestId('delivery').filter({ hasText: 'Read' }).waitFor();

  await input.pressSequentially('My parcel');
  await agent.page.getByTestId('typing').filter({ hasText: 'Wendy is typing' }).waitFor();
  await input.press('Enter');
  await agent.page.getByTestId('transcript').getByText('My parcel').waitFor();

  await agent.page.getByTestId('action-end').click();
  await widget.frame.getByTestId('ended').waitFor({ state: 'visible' });
  await agent.page.getByTestId('chat-banner').waitFor();
  await finish(agent, widget.context);
});
