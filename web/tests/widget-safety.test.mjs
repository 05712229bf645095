// The widget against hostile content, axe-core, small screens, and a
// screenshot (web/tests/screenshots/widget.png).

import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './harness.mjs';
import { WIDGET, startHostPage, openWidget, storedChat, widgetFrame, seriousViolations, startWidgetEnvironment, stopWidgetEnvironment } from './widget-support.mjs';

const AGENT = { name: 'Ann', login: 'ann', password: 'switchboard-test-pass', capacity: 20 };
const screenshots = join(dirname(fileURLToPath(import.meta.url)), 'screenshots');

describe('customer widget: safety and accessibility', () => {
  let server, browser, host, entryPointId, agent;
  before(async () => {
    ({ server, browser, host, entryPointId, agent } = await startWidgetEnvironment(AGENT));
  });

  after(() => stopWidgetEnvironment({ agent, browser, host, server }));

  it('never runs what an agent or a file carries', async () => {
    const widget = await openWidget(browser, host, { name: 'Mallory' });
    const { page, frame } = widget;
    try {
      const { conversationId } = await storedChat(frame, entryPointId);
      await agent.waitAssigned(conversationId);
      // Any payload that runs leaves a mark on a window, or a console line.
      const marks = [];
      page.on('console', (msg) => {
        if (msg.text().includes('xss-ran')) marks.push(msg.text());
      });
      page.on('dialog', (dialog) => {
        marks.push(`dialog: ${dialog.message()}`);
        dialog.dismiss().catch(() => {});
      });
      const payload = "window.top.__xss = 1; window.__xss = 1; console.log('xss-ran')";

      await agent.send(conversationId, `<img src=x onerror="${payload}">plain`);
      await agent.send(conversationId, `[click me](javascript:${encodeURIComponent(payload)}) and <img src=x onerror="${payload}"> <script>${payload}</script>`, 'text/markdown');
      await agent.send(conversationId, '{"html":"<img src=x onerror=alert(1)>"}', 'application/json');
      await frame.locator('[data-testid="message-theirs"]', { hasText: 'html' }).waitFor();

      // The plain message shows its text as text.
      const plain = frame.locator('[data-testid="message-theirs"]', { hasText: 'plain' });
      assert.match(await plain.textContent(), /<img src=x onerror=/);
      assert.equal(await plain.locator('img').count(), 0);
      // The markdown link has no javascript: href left; clicking it does nothing.
      const link = frame.locator('[data-testid="message-theirs"] a', { hasText: 'click me' });
      if (await link.count()) {
        const href = (await link.getAttribute('href')) ?? '';
        assert.doesNotMatch(href, /^\s*javascript:/i);
        await link.click({ modifiers: [] }).catch(() => {});
      }
      assert.equal(await frame.locator('[data-testid="messages"] script').count(), 0);
      assert.equal(await frame.locator('[data-testid="messages"] [onerror]').count(), 0);

      // An SVG with a script, sent as is and disguised as a PNG: both refused, nothing runs.
      const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" onload="${payload}"><script>${payload}</script></svg>`);
      for (const file of [{ name: 'evil.svg', mimeType: 'image/svg+xml' }, { name: 'evil.png', mimeType: 'image/png' }]) {
        const before = await frame.getByTestId('upload-error').count();
        const [chooser] = await Promise.all([page.waitForEvent('filechooser'), frame.getByTestId('attach').click()]);
        await chooser.setFiles({ ...file, buffer: svg });
        await waitFor(async () => (await frame.getByTestId('upload-error').count()) > before, { what: `${file.name} refused` });
      }
      assert.equal(await frame.getByTestId('attachment').count(), 0);

      // Give every payload the chance a real page would: the messages are
      // rendered and images have failed; then look for the marks.
      await frame.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
      assert.equal(await page.evaluate(() => window.__xss), undefined);
      assert.equal(await frame.evaluate(() => window.__xss), undefined);
      assert.deepEqual(marks, []);
    } finally {
      await widget.context.close();
    }
  });

  it('has no serious or critical axe violations, before and during a chat', async () => {
    const widget = await openWidget(browser, host, { start: false });
    const { frame } = widget;
    try {
      await frame.getByTestId('prechat-form').waitFor();
      assert.deepEqual(await seriousViolations(frame), [], 'pre-chat form');
      // Submitting empty shows the error at the field.
      await frame.getByTestId('start-chat').click();
      await frame.getByTestId('prechat-display_name-error').waitFor();
      assert.equal(await frame.getByTestId('prechat-display_name').getAttribute('aria-invalid'), 'true');
      assert.deepEqual(await seriousViolations(frame), [], 'pre-chat form with an error');

      await frame.getByTestId('prechat-display_name').fill('Ada');
      await frame.getByTestId('start-chat').click();
      await frame.getByTestId('composer-input').waitFor();
      const { conversationId } = await storedChat(frame, entryPointId);
      await agent.waitAssigned(conversationId);
      await agent.send(conversationId, 'Hi Ada, how can I help?');
      await frame.getByTestId('message-theirs').waitFor();
      await frame.getByTestId('composer-input').fill('Hello');
      await frame.getByTestId('send').click();
      await agent.requestFile(conversationId, 'ID-1');
      await frame.getByTestId('file-request').waitFor();
      assert.equal(await frame.getByTestId('messages').getAttribute('role'), 'log');
      assert.equal(await frame.getByTestId('messages').getAttribute('aria-live'), 'polite');
      assert.deepEqual(await seriousViolations(frame), [], 'chat view');
      // The launcher and the frame in the host page.
      assert.deepEqual(await seriousViolations(widget.page.mainFrame()), [], 'host page with the launcher');
    } finally {
      await widget.context.close();
    }
  });

  it('fits a 320 px phone as a full-screen panel; screenshots', async () => {
    await mkdir(screenshots, { recursive: true });
    const plainHost = await startHostPage(server, entryPointId, { hostile: false });
    const desktop = await openWidget(browser, plainHost, { name: 'Jane' });
    try {
      const { conversationId } = await storedChat(desktop.frame, entryPointId);
      await agent.waitAssigned(conversationId);
      await desktop.frame.getByTestId('composer-input').fill('Hi, my order has not arrived yet.');
      await desktop.frame.getByTestId('send').click();
      await agent.send(conversationId, 'Sorry to hear that! Could you send me **the order number**?', 'text/markdown');
      await desktop.frame.getByTestId('message-theirs').waitFor();
      await waitFor(async () => (await desktop.frame.getByTestId('message-mine').getAttribute('data-status')) !== 'sending', { what: 'sent' });
      await desktop.page.screenshot({ path: join(screenshots, 'widget.png') });
    } finally {
      await desktop.context.close();
      await plainHost.close();
    }

    const phone = await openWidget(browser, host, { name: 'Pat', viewport: { width: 320, height: 640 } });
    try {
      const box = await phone.page.evaluate(() => {
        const root = document.querySelector('[data-switchboard-widget]').shadowRoot;
        const r = root.querySelector('.frame-box').getBoundingClientRect();
        return { x: r.x, y: r.y, width: r.width, height: r.height };
      });
      assert.deepEqual(box, { x: 0, y: 0, width: 320, height: 640 });
      const { conversationId } = await storedChat(phone.frame, entryPointId);
      await agent.waitAssigned(conversationId);
      await agent.send(conversationId, `See https://example.com/${'very-long-path-'.repeat(12)} and a table:\n\n| a | b |\n|---|---|\n| ${'x'.repeat(80)} | y |`, 'text/markdown');
      await phone.frame.getByTestId('message-theirs').waitFor();
      await phone.frame.getByTestId('composer-input').fill(`${'w'.repeat(120)}`);
      await phone.frame.getByTestId('send').click();
      await waitFor(async () => (await phone.frame.getByTestId('message-mine').getAttribute('data-status')) === 'sent', { what: 'sent' });
      const widest = await phone.frame.locator('.log').evaluate((log) => Math.max(...[...log.children].map((c) => c.getBoundingClientRect().right)));
      assert.ok(widest <= 320, `messages fit the screen (right edge ${widest})`);
      const overflow = await phone.frame.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.equal(overflow, 0, 'no horizontal scrolling at 320 px');
      await phone.page.screenshot({ path: join(screenshots, 'widget-phone.png') });
      // Full screen hides the launcher: the panel's own close button gives it back.
      await phone.frame.getByTestId('close').click();
      await phone.page.getByTestId('launcher').waitFor({ state: 'visible' });
    } finally {
      await phone.context.close();
    }
  });

  it('opens at once with data-open, styled per entry point, and keeps Tab inside the panel', async () => {
    const openHost = await startHostPage(server, entryPointId, { open: true });
    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      await page.goto(openHost.url);
      const frame = await widgetFrame(page);
      await frame.getByTestId('prechat-form').waitFor();
      assert.equal(await page.getByTestId('launcher').getAttribute('aria-expanded'), 'true');
      assert.equal(await page.getByTestId('launcher').getAttribute('aria-label'), 'Close chat');
      // Opened by the page, not the person: focus stays in the host page.
      assert.equal(await frame.evaluate(() => document.hasFocus()), false);
      assert.equal(await frame.getByTestId('title').textContent(), WIDGET.title);
      assert.equal(await frame.getByTestId('greeting').textContent(), WIDGET.greeting);
      const header = await frame.locator('.header').evaluate((el) => getComputedStyle(el).backgroundColor);
      assert.equal(header, 'rgb(11, 110, 79)');
      assert.equal(await page.getByTestId('widget-frame').getAttribute('title'), 'Chat with us');
      // The host page's careless CSS did not reach the launcher or the panel.
      const sizes = await page.evaluate(() => {
        const root = document.querySelector('[data-switchboard-widget]').shadowRoot;
        const size = (el) => { const r = el.getBoundingClientRect(); return [Math.round(r.width), Math.round(r.height)]; };
        return { launcher: size(root.querySelector('.launcher')), frame: size(root.querySelector('iframe')) };
      });
      assert.deepEqual(sizes, { launcher: [56, 56], frame: [380, 600] });

      // The loader only hears its own frame: a message from elsewhere in the page is ignored.
      await frame.getByTestId('close').click();
      await page.evaluate(() => new Promise((resolve) => {
        window.addEventListener('message', (e) => { if (e.data === 'barrier') resolve(); });
        window.postMessage({ channel: 'switchboard-widget', type: 'unread', count: 7 }, '*');
        window.postMessage('barrier', '*');
      }));
      assert.equal(await page.getByTestId('launcher-badge').isHidden(), true);
      await page.getByTestId('launcher').click();

      // Tab from the last control comes back to the first, and Shift+Tab goes round the other way.
      await frame.getByTestId('start-chat').focus();
      await frame.getByTestId('start-chat').press('Tab');
      assert.equal(await frame.evaluate(() => document.activeElement?.dataset.testid), 'close');
      await frame.getByTestId('close').press('Shift+Tab');
      assert.equal(await frame.evaluate(() => document.activeElement?.dataset.testid), 'start-chat');
    } finally {
      await context.close();
      await openHost.close();
    }
  });
});
