// A transfer seen from the widget: the first agent leaves, the customer is
// told, the next agent joins and answers in the same chat.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser } from './harness.mjs';
import { startHostPage, openWidget, storedChat, startAgent } from './widget-support.mjs';

const ANN = { name: 'Ann', login: 'ann', password: 'switchboard-test-pass', capacity: 5 };
const BOB = { name: 'Bob', login: 'bob', password: 'switchboard-test-pass', capacity: 5 };

describe('customer widget: transfer', () => {
  let server;
  let browser;
  let host;
  let entryPointId;
  let ann;
  let bob;
  let bobId;

  before(async () => {
    server = await startServer();
    const setup = await server.setupRouting({ agents: [ANN, BOB] });
    entryPointId = setup.entryPointId;
    bobId = setup.agents.find((a) => a.login === 'bob' || a.name === 'Bob').id;
    host = await startHostPage(server, entryPointId);
    browser = await launchBrowser();
    ann = await startAgent(browser, server, ANN);
    bob = await startAgent(browser, server, { ...BOB, available: false });
  });

  after(async () => {
    await ann?.close().catch(() => {});
    await bob?.close().catch(() => {});
    await browser?.close();
    await host?.close();
    await server?.stop();
  });

  it('tells the customer who left and who joined', async () => {
    const widget = await openWidget(browser, host, { name: 'Cleo' });
    const { frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await ann.waitAssigned(conversationId);
      await frame.locator('[data-testid="notice"]', { hasText: 'Ann joined the chat' }).waitFor();

      await bob.setActivity('available');
      await ann.page.evaluate(([c, a]) => window.__agent.transfer(c, { agentId: a }), [conversationId, bobId]);
      await bob.waitAssigned(conversationId);
      await frame.locator('[data-testid="notice"]', { hasText: 'You are being transferred' }).waitFor();
      await frame.locator('[data-testid="notice"]', { hasText: 'Ann left the chat' }).waitFor();
      await frame.locator('[data-testid="notice"]', { hasText: 'Bob joined the chat' }).waitFor();

      await bob.send(conversationId, 'Bob here, I can help with that.');
      const reply = frame.locator('[data-testid="message-theirs"]', { hasText: 'Bob here' });
      await reply.waitFor();
      assert.equal(await reply.locator('.author').textContent(), 'Bob');
      assert.deepEqual(widget.problems, []);
    } finally {
      await widget.context.close();
    }
  });
});
