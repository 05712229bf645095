// Files behind the scan hook: the widget shows "checking", then the verdict.

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { openWidget, storedChat, startWidgetEnvironment, stopWidgetEnvironment } from './widget-support.mjs';

const AGENT = { name: 'Ann', login: 'ann', password: 'switchboard-test-pass', capacity: 20 };
// Rejects any file that contains EVIL, with a reason; approves the rest.
const SCAN = 'if grep -q EVIL; then echo "a test signature was found"; exit 1; else exit 0; fi';

describe('customer widget: scanned files', () => {
  let server, browser, host, entryPointId, agent;
  before(async () => {
    ({ server, browser, host, entryPointId, agent } = await startWidgetEnvironment(AGENT, { server: { args: ['--scan-command', SCAN] } }));
  });

  after(() => stopWidgetEnvironment({ agent, browser, host, server }));

  it('shows the verdict on files the customer and the agent send', async () => {
    const widget = await openWidget(browser, host, { name: 'Tom' });
    const { page, frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await agent.waitAssigned(conversationId);

      const send = async (name, text) => {
        const [chooser] = await Promise.all([page.waitForEvent('filechooser'), frame.getByTestId('attach').click()]);
        await chooser.setFiles({ name, mimeType: 'text/plain', buffer: Buffer.from(text) });
        return frame.locator('[data-testid="attachment"]', { hasText: name });
      };
      const bad = await send('bad.txt', 'this file is EVIL');
      await frame.locator('[data-testid="attachment"][data-status="rejected"]', { hasText: 'bad.txt' }).waitFor();
      assert.match(await bad.getByTestId('attachment-status').textContent(), /rejected: a test signature was found/);
      assert.equal(await bad.getByTestId('attachment-link').getAttribute('href'), null);

      const good = await send('good.txt', 'a harmless file');
      await frame.locator('[data-testid="attachment"][data-status="approved"]', { hasText: 'good.txt' }).waitFor();
      assert.equal(await good.getByTestId('attachment-status').textContent(), '');

      // The agent's file reaches the customer once approved, with a working link.
      await agent.page.evaluate(async (id) => {
        const blob = new Blob(['notes from the agent'], { type: 'text/plain' });
        await window.__agent.uploadFile(id, blob, { name: 'notes.txt', contentType: 'text/plain' });
      }, conversationId);
      const notes = frame.locator('[data-testid="attachment"]', { hasText: 'notes.txt' });
      await frame.locator('[data-testid="attachment"][data-status="approved"]', { hasText: 'notes.txt' }).waitFor();
      const link = notes.getByTestId('attachment-link');
      await frame.waitForFunction(() => {
        const a = [...document.querySelectorAll('[data-testid="attachment"]')].find((c) => c.textContent.includes('notes.txt'));
        return a?.querySelector('a')?.getAttribute('href')?.includes('/api/v1/files/');
      });
      const href = await link.getAttribute('href');
      const body = await frame.evaluate(async (url) => (await fetch(url)).text(), href);
      assert.equal(body, 'notes from the agent');
    } finally {
      await widget.context.close();
    }
  });
});
