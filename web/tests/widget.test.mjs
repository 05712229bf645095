// The customer widget in a real browser against the real server: a host page
// on another origin embeds it with its script tag; an agent answers through
// the SDK. Run with `node --test web/tests/` (SWITCHBOARD_BIN: the server).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { waitFor } from './harness.mjs';
import { WIDGET, startHostPage, openWidget, storedChat, widgetFrame, CuttableNetwork, startWidgetEnvironment, stopWidgetEnvironment } from './widget-support.mjs';

const AGENT = { name: 'Ann', login: 'ann', password: 'switchboard-test-pass', capacity: 20 };

describe('customer widget', () => {
  let server, browser, host, entryPointId, agent;
  before(async () => {
    ({ server, browser, host, entryPointId, agent } = await startWidgetEnvironment(AGENT));
  });

  after(() => stopWidgetEnvironment({ agent, browser, host, server }));

  it('chats with an agent: queue, join, messages, receipts, typing, end, keyboard', async () => {
    await agent.setAutoAccept(false);
    await agent.setActivity('away');
    const widget = await openWidget(browser, host, { name: 'Jane' });
    const { page, frame } = widget;
    try {
      // Nobody is available: the customer waits in line.
      await frame.getByTestId('queue-status').waitFor({ state: 'visible' });
      assert.match(await frame.getByTestId('queue-status').textContent(), /line|Waiting/);
      const { conversationId } = await storedChat(frame, entryPointId);
      assert.match(conversationId, /^cnv_/);

      // The customer writes before anyone joined; it is stored at once.
      await frame.getByTestId('composer-input').fill('Hello, my invoice is wrong');
      await frame.getByTestId('composer-input').press('Enter');
      const mine = frame.getByTestId('message-mine').last();
      await waitFor(async () => (await mine.getAttribute('data-status')) === 'sent', { what: 'own message sent' });

      // The agent comes back and takes the chat.
      await agent.setAutoAccept(true);
      await agent.setActivity('available');
      await agent.waitAssigned(conversationId);
      await frame.locator('[data-testid="notice"]', { hasText: 'Ann joined the chat' }).waitFor();
      await frame.getByTestId('queue-status').waitFor({ state: 'hidden' });

      // The agent sees the message and reads it: the customer sees "Read".
      const message = await agent.waitForEvent(conversationId, (e) => e.type === 'message' && e.content === 'Hello, my invoice is wrong');
      await agent.markRead(conversationId, message.id);
      await waitFor(async () => (await mine.getAttribute('data-status')) === 'read', { what: 'read receipt shown' });
      assert.equal(await mine.getByTestId('message-status').textContent(), 'Read');

      // The agent types, then answers in markdown.
      await agent.typing(conversationId);
      await frame.getByTestId('typing').waitFor({ state: 'visible' });
      assert.match(await frame.getByTestId('typing').textContent(), /Ann is typing/);
      await agent.send(conversationId, 'Let me **check** that for you.', 'text/markdown');
      const reply = frame.getByTestId('message-theirs').last();
      await reply.waitFor();
      assert.match(await reply.textContent(), /check/);
      await frame.getByTestId('typing').waitFor({ state: 'hidden' });
      // The widget is open and visible: it tells the agent the reply was read.
      const replyEvent = await agent.waitForEvent(conversationId, (e) => e.type === 'message' && e.content.startsWith('Let me'));
      await agent.waitForEvent(conversationId, new Function('e', `return e.type === 'message.read' && e.message_id === '${replyEvent.id}'`));

      await frame.getByTestId('composer-input').pressSequentially('Thank');
      // The customer's typing reaches the agent, with the draft as a preview.
      const typing = await agent.waitForTyping(conversationId, 'Thank');
      assert.ok(typing.participantId);

      // Esc closes the panel and gives focus back to the launcher; the launcher reopens it.
      await frame.getByTestId('composer-input').press('Escape');
      await waitFor(() => page.evaluate(() => {
        const host = document.querySelector('[data-switchboard-widget]');
        return host.shadowRoot.querySelector('.frame-box').hidden && host.shadowRoot.activeElement?.dataset.testid === 'launcher';
      }), { what: 'panel closed, focus on the launcher' });
      assert.equal(await page.getByTestId('launcher').getAttribute('aria-expanded'), 'false');

      // While closed, a new agent message shows on the launcher's badge.
      await agent.send(conversationId, 'Are you still there?');
      await page.getByTestId('launcher-badge').waitFor({ state: 'visible' });
      assert.equal(await page.getByTestId('launcher-badge').textContent(), '1');
      assert.equal(await page.getByTestId('launcher').getAttribute('aria-label'), 'Open chat, 1 unread');
      await page.getByTestId('launcher').click();
      await page.getByTestId('launcher-badge').waitFor({ state: 'hidden' });
      await waitFor(() => frame.evaluate(() => document.activeElement?.dataset.testid === 'composer-input'), { what: 'focus in the composer' });

      // The agent ends the chat: ended state, then a new chat can start.
      await agent.end(conversationId);
      await frame.getByTestId('ended').waitFor({ state: 'visible' });
      assert.equal(await frame.getByTestId('composer').isHidden(), true);
      await frame.getByTestId('new-chat').click();
      await frame.getByTestId('prechat-form').waitFor({ state: 'visible' });
      assert.equal(await storedChat(frame, entryPointId), null);

      // The new chat continues the ended one (persistent chat).
      await frame.getByTestId('prechat-display_name').fill('Jane');
      await frame.getByTestId('start-chat').click();
      await frame.getByTestId('composer-input').waitFor({ state: 'visible' });
      const next = await storedChat(frame, entryPointId);
      assert.notEqual(next.conversationId, conversationId);
      const continued = await server.api('GET', `/conversations/${next.conversationId}`);
      assert.equal(continued.previous_conversation_id, conversationId);
      await agent.waitAssigned(next.conversationId);
      await agent.end(next.conversationId);
      await frame.getByTestId('ended').waitFor({ state: 'visible' });
      assert.deepEqual(widget.problems, []);
    } finally {
      await widget.context.close();
    }
  });

  it('survives a page refresh while messages arrive: no gap, no duplicate', async () => {
    const widget = await openWidget(browser, host, { name: 'Rita' });
    const { page } = widget;
    let { frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await agent.waitAssigned(conversationId);
      await frame.getByTestId('composer-input').fill('before the refresh');
      await frame.getByTestId('send').click();
      await agent.waitForEvent(conversationId, (e) => e.type === 'message' && e.content === 'before the refresh');

      // The agent keeps sending while the host page reloads.
      const total = 30;
      const sending = (async () => {
        for (let i = 1; i <= total; i += 1) await agent.send(conversationId, `update ${i}`);
      })();
      await frame.locator('[data-testid="message-theirs"] .body', { hasText: /^update 3$/ }).waitFor();
      await page.reload();
      await sending;
      frame = await widgetFrame(page);
      // The chat is reopened by itself (it was open), same conversation.
      await frame.locator('[data-testid="message-theirs"] .body', { hasText: new RegExp(`^update ${total}$`) }).waitFor({ timeout: 20000 });
      assert.equal((await storedChat(frame, entryPointId)).conversationId, conversationId);

      const shown = await frame.locator('[data-testid="message-theirs"] .body').allTextContents();
      const updates = shown.map((t) => /^update (\d+)$/.exec(t)?.[1]).filter(Boolean).map(Number);
      assert.deepEqual(updates, Array.from({ length: total }, (_, i) => i + 1), 'every update once, in order');
      const transcript = await server.api('GET', `/conversations/${conversationId}/transcript?order=asc&limit=500`);
      const messages = transcript.events.filter((e) => e.type === 'message');
      const domMessages = await frame.locator('[data-testid^="message-"][data-seq]').count();
      assert.equal(domMessages, messages.length, 'one DOM message per transcript message');
      const seqs = await frame.locator('[data-seq]').evaluateAll((nodes) => nodes.map((n) => Number(n.dataset.seq)));
      assert.deepEqual(seqs, [...seqs].sort((a, b) => a - b), 'in seq order');
      assert.equal(new Set(seqs).size, seqs.length, 'no seq twice');
      assert.equal(await frame.getByTestId('message-mine').count(), 1);
      assert.deepEqual(widget.problems, []);
    } finally {
      await widget.context.close();
    }
  });

  it('shows a network cut, keeps the draft and queued messages, and reconnects by itself', async () => {
    const network = new CuttableNetwork();
    const widget = await openWidget(browser, host, { name: 'Omar', prepare: (context) => network.install(context) });
    const { frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await agent.waitAssigned(conversationId);
      await frame.locator('[data-testid="notice"]', { hasText: 'joined' }).waitFor();

      await network.down();
      const banner = frame.getByTestId('connection');
      await banner.waitFor({ state: 'visible' });
      assert.match(await banner.textContent(), /offline|Reconnecting/i);
      assert.equal(await banner.getAttribute('role'), 'status');

      await frame.getByTestId('composer-input').fill('sent while offline');
      await frame.getByTestId('composer-input').press('Enter');
      const queued = frame.locator('[data-testid="message-mine"]', { hasText: 'sent while offline' });
      assert.equal(await queued.getAttribute('data-status'), 'sending');
      await frame.getByTestId('composer-input').fill('a draft in progress');
      await agent.send(conversationId, 'answer during the cut');

      await network.up();
      await banner.waitFor({ state: 'hidden', timeout: 30000 });
      await waitFor(async () => (await queued.getAttribute('data-status')) !== 'sending', { timeoutMs: 30000, what: 'queued message sent' });
      await agent.waitForEvent(conversationId, (e) => e.type === 'message' && e.content === 'sent while offline');
      await frame.locator('[data-testid="message-theirs"]', { hasText: 'answer during the cut' }).waitFor();
      assert.equal(await frame.getByTestId('composer-input').inputValue(), 'a draft in progress');
      assert.equal(await frame.locator('[data-testid="message-mine"]', { hasText: 'sent while offline' }).count(), 1);
    } finally {
      await widget.context.close();
    }
  });

  it('sends a message queued offline once, after the tab was closed and opened again', async () => {
    const network = new CuttableNetwork();
    const widget = await openWidget(browser, host, { name: 'Ines', prepare: (context) => network.install(context) });
    const { context, page, frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await agent.waitAssigned(conversationId);
      await network.down();
      await frame.getByTestId('connection').waitFor({ state: 'visible' });
      await frame.getByTestId('composer-input').fill('written on the train');
      await frame.getByTestId('composer-input').press('Enter');
      assert.equal(await frame.locator('[data-testid="message-mine"]', { hasText: 'written on the train' }).getAttribute('data-status'), 'sending');
      await page.close();

      await network.up();
      const again = await context.newPage();
      await again.goto(host.url);
      const reopened = await widgetFrame(again);
      const mine = reopened.locator('[data-testid="message-mine"]', { hasText: 'written on the train' });
      await waitFor(async () => (await mine.count()) === 1 && (await mine.getAttribute('data-status')) === 'sent', { what: 'the queued message sent after reopening' });
      await agent.waitForEvent(conversationId, (e) => e.type === 'message' && e.content === 'written on the train');
      // Sent once: one in the transcript, one on screen, nothing left queued.
      await agent.send(conversationId, 'got it');
      await reopened.locator('[data-testid="message-theirs"] .body', { hasText: /^got it$/ }).waitFor();
      const transcript = await server.api('GET', `/conversations/${conversationId}/transcript?order=asc&limit=500`);
      assert.equal(transcript.events.filter((e) => e.content === 'written on the train').length, 1);
      assert.equal(await mine.count(), 1);
      assert.equal(await reopened.evaluate((ep) => localStorage.getItem(`switchboard-widget:pending:${ep}`), entryPointId), null);
    } finally {
      await context.close();
    }
  });

  it('answers a file request with an upload, with progress', async () => {
    const widget = await openWidget(browser, host, { name: 'Lena' });
    const { page, frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await agent.waitAssigned(conversationId);
      await agent.requestFile(conversationId, 'CASE-42');
      const prompt = frame.getByTestId('file-request');
      await prompt.waitFor();

      // Record every value the progress bar takes.
      await frame.evaluate(() => {
        window.__progress = [];
        new MutationObserver((records) => {
          for (const r of records) {
            for (const node of r.addedNodes) {
              const bar = node.querySelector?.('progress');
              if (bar) window.__progress.push({ value: Number(bar.value), max: Number(bar.max) });
            }
            if (r.target.tagName === 'PROGRESS') window.__progress.push({ value: Number(r.target.value), max: Number(r.target.max) });
          }
        }).observe(document.querySelector('[data-testid="uploads"]'), { childList: true, subtree: true, attributes: true, attributeFilter: ['value', 'max'] });
      });
      const size = 3 * 1024 * 1024;
      const [chooser] = await Promise.all([page.waitForEvent('filechooser'), prompt.getByTestId('file-request-upload').click()]);
      await chooser.setFiles({ name: 'statement.txt', mimeType: 'text/plain', buffer: Buffer.alloc(size, 'a') });

      const received = await agent.waitForEvent(conversationId, (e) => e.type === 'file.received', 30000);
      assert.equal(received.record_id, 'CASE-42');
      await frame.locator('[data-testid="file-request"][data-state="file.received"]').waitFor();
      const card = frame.locator('[data-testid="attachment"]', { hasText: 'statement.txt' });
      await card.waitFor();
      const progress = await frame.evaluate(() => window.__progress);
      assert.ok(progress.length >= 2, `progress was shown: ${JSON.stringify(progress)}`);
      assert.ok(progress.some((p) => p.max === size && p.value === size), 'the bar reached the file size');
      assert.ok(progress.some((p) => p.value < size), 'the bar started below the file size');
      await frame.getByTestId('upload').waitFor({ state: 'detached' });
      // The link downloads the file (fetched fresh from the attachment).
      await waitFor(async () => (await card.getByTestId('attachment-link').getAttribute('href')).includes('/api/v1/files/'), { what: 'download link' });

      // A file dropped on the chat is sent too.
      await frame.evaluate(() => {
        window.__drop = new DataTransfer();
        window.__drop.items.add(new File(['hello from a drop'], 'dropped.txt', { type: 'text/plain' }));
        const view = document.getElementById('view-chat');
        view.dispatchEvent(new DragEvent('dragenter', { dataTransfer: window.__drop, bubbles: true, cancelable: true }));
      });
      await frame.getByTestId('drop-zone').waitFor({ state: 'visible' });
      await frame.evaluate(() => {
        const view = document.getElementById('view-chat');
        view.dispatchEvent(new DragEvent('dragover', { dataTransfer: window.__drop, bubbles: true, cancelable: true }));
        view.dispatchEvent(new DragEvent('drop', { dataTransfer: window.__drop, bubbles: true, cancelable: true }));
      });
      await frame.getByTestId('drop-zone').waitFor({ state: 'hidden' });
      await frame.locator('[data-testid="attachment"]', { hasText: 'dropped.txt' }).waitFor();
      await agent.waitForEvent(conversationId, (e) => e.type === 'attachment' && e.name === 'dropped.txt');

      // Another request, declined.
      await agent.requestFile(conversationId, 'CASE-43');
      const second = frame.locator('[data-testid="file-request"]:not([data-state])');
      await second.getByTestId('file-request-decline').click();
      await frame.locator('[data-testid="file-request"][data-state="file.request_declined"]').waitFor();
      await agent.waitForEvent(conversationId, (e) => e.type === 'file.request_declined');
    } finally {
      await widget.context.close();
    }
  });

  it('renders a flow form, checks it, shows the server\'s field error, submits it', async () => {
    await server.api('POST', '/flows', `name: widget-details
side: customer
steps:
  ask:
    type: show_form
    form:
      name: details
      title: Your order
      fields:
        - name: order
          label: Order number
          type: text
          pattern: "[0-9]{6}"
          required: true
        - name: quantity
          label: Quantity
          type: number
          min: 1
          max: 10
        - name: colour
          label: Colour
          type: choice
          choices: [Red, Blue]
        - name: gift
          label: Gift wrap
          type: boolean
    into: answer
    next: thanks
  thanks:
    type: send_message
    text: "Thanks, order {{ vars.answer.order }} noted."
    next: end
`, { contentType: 'application/yaml' });
    const widget = await openWidget(browser, host, { name: 'Kai' });
    const { frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await server.api('POST', '/flows/widget-details/runs', { conversation_id: conversationId });
      const form = frame.getByTestId('flow-form');
      await form.waitFor();
      assert.equal(await frame.getByLabel('Order number').getAttribute('required'), '');
      assert.equal(await frame.getByLabel('Quantity').getAttribute('type'), 'number');
      assert.equal(await frame.getByLabel('Gift wrap').getAttribute('type'), 'checkbox');

      // Client checks: the required field, the range.
      await form.getByTestId('flow-form-submit').click();
      await form.locator('.field-error').first().waitFor();
      assert.match(await form.locator('.field-error').first().textContent(), /Order number is required/);
      await frame.getByLabel('Order number').fill('123456');
      await frame.getByLabel('Quantity').fill('11');
      await form.getByTestId('flow-form-submit').click();
      await form.locator('.field-error', { hasText: 'at most 10' }).waitFor();

      // The server's own check, shown at its field (the client's pattern taken off to reach it).
      await frame.getByLabel('Order number').evaluate((input) => input.removeAttribute('pattern'));
      await frame.getByLabel('Order number').fill('12ab');
      await frame.getByLabel('Quantity').fill('2');
      await form.getByTestId('flow-form-submit').click();
      const serverError = form.locator('[id$="-order-error"]');
      await serverError.waitFor();
      assert.equal(await frame.getByLabel('Order number').getAttribute('aria-invalid'), 'true');

      await frame.getByLabel('Order number').fill('654321');
      await frame.getByLabel('Colour').selectOption('Blue');
      await frame.getByLabel('Gift wrap').check();
      await form.getByTestId('flow-form-submit').click();
      await frame.locator('[data-testid="flow-form"][data-state="submitted"]').waitFor();
      assert.match(await form.textContent(), /654321/);
      await frame.locator('[data-testid="message-theirs"]', { hasText: 'Thanks, order 654321 noted.' }).waitFor();
      const runs = await server.api('GET', `/flow-runs?conversation_id=${conversationId}`);
      const list = Array.isArray(runs) ? runs : runs.runs;
      assert.equal(list[0].state, 'completed');
    } finally {
      await widget.context.close();
    }
  });

  it('warns an idle customer, then shows the auto-disconnection and the end', async () => {
    const idle = await server.api('POST', '/entry-points', {
      name: 'Idle shop',
      widget: WIDGET,
      idle: { idle_after_secs: 1, disconnect_after_secs: 3 },
    });
    const idleHost = await startHostPage(server, idle.id);
    const widget = await openWidget(browser, idleHost, { name: 'Sam' });
    const { frame } = widget;
    try {
      await frame.getByTestId('composer-input').fill('one question');
      await frame.getByTestId('send').click();
      const warning = frame.getByTestId('idle-warning');
      await warning.waitFor({ timeout: 20000 });
      assert.match(await warning.textContent(), /still there/);
      await frame.getByTestId('autodisconnected').waitFor({ timeout: 20000 });
      await frame.getByTestId('ended').waitFor({ state: 'visible' });
      assert.equal(await frame.getByTestId('composer').isHidden(), true);
      assert.equal(await storedChat(frame, idle.id), null);
    } finally {
      await widget.context.close();
      await idleHost.close();
    }
  });

  it('shows the end when the chat is erased, and forgets it', async () => {
    const widget = await openWidget(browser, host, { name: 'Vera' });
    const { frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await frame.getByTestId('composer-input').fill('please forget me');
      await frame.getByTestId('send').click();
      await frame.locator('[data-testid="message-mine"][data-status="sent"]').waitFor();
      await server.api('DELETE', `/conversations/${conversationId}?end=true&reason=request`);
      // Erasing an open chat ends it first: the customer sees the end.
      await frame.getByTestId('ended-notice').waitFor();
      await frame.getByTestId('ended').waitFor({ state: 'visible' });
      assert.equal(await storedChat(frame, entryPointId), null);
      // After a refresh the launcher waits closed, and opening it offers a new chat.
      await widget.page.reload();
      assert.equal(await widget.page.getByTestId('launcher').getAttribute('aria-expanded'), 'false');
      await widget.page.getByTestId('launcher').click();
      const after = await widgetFrame(widget.page);
      await after.getByTestId('prechat-form').waitFor();
      // The erased chat cannot be continued: the next one starts afresh.
      await after.getByTestId('prechat-display_name').fill('Vera');
      await after.getByTestId('start-chat').click();
      await after.getByTestId('composer-input').waitFor({ state: 'visible' });
      const fresh = await storedChat(after, entryPointId);
      const conversation = await server.api('GET', `/conversations/${fresh.conversationId}`);
      assert.equal(conversation.previous_conversation_id ?? null, null);
    } finally {
      await widget.context.close();
    }
  });
});
