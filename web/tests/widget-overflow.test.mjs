// The widget when nobody can take the chat: the workflow's message step
// turns it into a "message us" request with a contact form.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer, launchBrowser } from './harness.mjs';
import { startHostPage, openWidget, startChat, storedChat } from './widget-support.mjs';

describe('customer widget: overflow to a message', () => {
  let server;
  let browser;
  let host;
  let entryPointId;

  before(async () => {
    server = await startServer();
    await server.api('POST', '/queues', { name: 'support' });
    await server.api('PUT', '/workflow', {
      filters: [{
        name: 'support',
        steps: [
          { queue: 'support', skip_if_nobody_available: true },
          { queue: 'support', message: 'We are away right now. Leave us a message and we will get back to you.' },
        ],
      }],
    });
    entryPointId = await server.entryPointId();
    host = await startHostPage(server, entryPointId);
    browser = await launchBrowser();
  });

  after(async () => {
    await browser?.close();
    await host?.close();
    await server?.stop();
  });

  it('tells the customer, takes contact details in the form, and keeps the chat open for messages', async () => {
    const widget = await openWidget(browser, host, { start: false });
    const { frame } = widget;
    try {
      // Nobody is there: the pre-chat form says so before the chat starts.
      await frame.getByTestId('availability').waitFor();
      assert.match(await frame.getByTestId('availability').textContent(), /busy/);
      await startChat(widget, 'Noor');
      await frame.locator('[data-testid="notice"]', { hasText: 'Leave us a message' }).waitFor();
      await frame.getByTestId('queue-status').waitFor({ state: 'hidden' });
      const form = frame.getByTestId('flow-form');
      await form.waitFor();
      await form.getByLabel('email', { exact: false }).fill('noor@example.com');
      await form.getByTestId('flow-form-submit').click();
      await form.locator('.field-error').first().waitFor(); // the name is required
      await form.locator('input').first().fill('Noor');
      await form.getByTestId('flow-form-submit').click();
      await frame.locator('[data-testid="flow-form"][data-state="submitted"]').waitFor();

      await frame.getByTestId('composer-input').fill('My parcel never arrived.');
      await frame.getByTestId('send').click();
      const { conversationId } = await storedChat(frame, entryPointId);
      const requests = await server.api('GET', '/message-requests');
      const list = Array.isArray(requests) ? requests : requests.message_requests ?? requests.requests;
      const request = list.find((r) => r.conversation_id === conversationId);
      assert.ok(request, 'listed as a message request');
      assert.equal(request.contact?.email, 'noor@example.com');
      assert.deepEqual(widget.problems, []);
      await frame.locator('[data-testid="message-mine"][data-status="sent"]').waitFor();
      await widget.page.screenshot({ path: join(dirname(fileURLToPath(import.meta.url)), 'screenshots', 'widget-overflow.png') });

      // The customer ends the chat, after saying yes.
      await frame.getByTestId('end-chat').click();
      await frame.getByTestId('confirm-end-no').click();
      await frame.getByTestId('confirm-end').waitFor({ state: 'hidden' });
      await frame.getByTestId('end-chat').click();
      await frame.getByTestId('confirm-end-yes').click();
      await frame.getByTestId('ended').waitFor({ state: 'visible' });
      const conversation = await server.api('GET', `/conversations/${conversationId}`);
      assert.equal(conversation.state, 'ended');
    } finally {
      await widget.context.close();
    }
  });

  it('says when the entry point is closed, before the chat starts', async () => {
    await server.api('POST', '/schedules', { name: 'never', time_zone: 'UTC', weekly: {} });
    const closed = await server.api('POST', '/entry-points', { name: 'Closed shop', schedule: 'never' });
    const closedHost = await startHostPage(server, closed.id);
    const widget = await openWidget(browser, closedHost, { start: false });
    try {
      await widget.frame.getByTestId('availability').waitFor();
      assert.match(await widget.frame.getByTestId('availability').textContent(), /closed right now/);
      await widget.frame.getByTestId('prechat-form').waitFor();
    } finally {
      await widget.context.close();
      await closedHost.close();
    }
  });
});
