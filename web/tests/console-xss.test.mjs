// XSS in the console: what customers type (names, messages, markdown, JSON,
// typing previews, files) must never run. The console's page runs with its CSP
// switched off here, so the CSP cannot hide a console that injects markup:
// every payload's side effect is a counter on window, and alert() is watched.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCustomer, acceptOffer } from './harness.mjs';
import { useConsoleWorld, signIn, finish } from './console-support.mjs';

const PWN = 'window.__pwned=(window.__pwned||0)+1';
const IMG = `<img src=x onerror="${PWN}">`;

const world = useConsoleWorld();

test('customer content never runs in the console', async () => {
  const { server, browser } = world;
  const session = await signIn(world, { bypassCSP: true });
  const { page } = session;
  const dialogs = [];
  page.on('dialog', (d) => { dialogs.push(d.message()); d.dismiss(); });

  const mallory = await startCustomer(browser, server, { displayName: IMG, attributes: { note: IMG } });
  await mallory.send(IMG);
  const offer = page.locator(`[data-testid="offer"][data-conversation-id="${mallory.conversationId}"]`);
  await offer.waitFor();
  await acceptOffer(page, mallory.conversationId);
  const transcript = page.getByTestId('transcript');

  await mallory.send(`[click me](javascript:${PWN})\n\n${IMG}\n\n<script>${PWN}</script>`, { contentType: 'text/markdown' });
  await mallory.send(JSON.stringify({ html: IMG }), { contentType: 'application/json' });
  await mallory.typing(IMG);
  const last = await mallory.send('the end');
  await transcript.locator(`[data-event-id="${last.id}"]`).waitFor();

  // A file with script: SVG as itself, disguised as PNG, and as text; the
  // server refuses the first two, and the console must not run any it takes.
  const svg = Buffer.from(`<svg xmlns="http://www.w3.org/2000/svg" onload="${PWN}"><script>${PWN}</script></svg>`);
  const outcomes = [];
  for (const [name, contentType] of [['evil.svg', 'image/svg+xml'], ['evil.png', 'image/png'], ['evil.txt', 'text/plain']]) {
    try {
      await mallory.upload({ name, contentType, bytes: svg });
      outcomes.push(`${name}: accepted`);
    } catch (err) {
      outcomes.push(`${name}: refused (${err.message})`);
    }
  }
  const after = await mallory.send('after the files');
  await transcript.locator(`[data-event-id="${after.id}"]`).waitFor();
  const accepted = outcomes.filter((x) => x.endsWith('accepted')).map((o) => o.split(':')[0]);
  assert.ok(accepted.includes('evil.txt'), outcomes.join('; '));
  for (const name of accepted) {
    // Shown as a file, never drawn; downloading saves it, nothing opens it.
    const file = transcript.getByTestId('attachment').filter({ hasText: name });
    await file.waitFor();
    assert.equal(await file.getByTestId('file-preview').count(), 0);
    const [download] = await Promise.all([page.waitForEvent('download'), file.getByTestId('file-download').click()]);
    assert.equal(download.suggestedFilename(), name);
  }

  // The plain-text payload shows as text.
  await transcript.getByTestId('message-body').filter({ hasText: IMG }).first().waitFor();
  assert.equal(await page.getByTestId('chat-title').textContent(), IMG);
  // The markdown link, if drawn as a link, goes nowhere dangerous.
  const hrefs = await page.$$eval('#transcript a', (as) => as.map((a) => a.getAttribute('href') || ''));
  assert.equal(hrefs.some((h) => /^\s*javascript:/i.test(h)), false, `links: ${hrefs}`);
  // Open the side panel facts (attributes carry the payload too).
  await page.getByTestId('side-attributes').getByText(IMG).waitFor();
  // Let any injected image fail to load and its handler run: wait until every
  // image in the page has settled before reading the counter.
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  const injected = await page.evaluate(() => ({
    pwned: window.__pwned || 0,
    imgs: document.querySelectorAll('img[src="x"], img[onerror]').length,
    scripts: document.querySelectorAll('#app-view script, #app-view [onload]').length,
  }));
  assert.deepEqual(injected, { pwned: 0, imgs: 0, scripts: 0 }, `files: ${outcomes.join('; ')}`);
  assert.deepEqual(dialogs, []);
  await finish(session, mallory);
});

test('the same payloads are inert under the real CSP too', async () => {
  const { server, browser } = world;
  const session = await signIn(world);
  const { page } = session;
  const violations = [];
  await page.exposeFunction('__violation', (v) => violations.push(v));
  await page.evaluate(() => document.addEventListener('securitypolicyviolation',
    (e) => window.__violation(`${e.violatedDirective} ${e.blockedURI}`)));
  const mallory = await startCustomer(browser, server, { displayName: IMG });
  await mallory.send(IMG, { contentType: 'text/markdown' });
  await mallory.send(IMG);
  await acceptOffer(page, mallory.conversationId);
  const last = await mallory.send('done');
  await page.getByTestId('transcript').locator(`[data-event-id="${last.id}"]`).waitFor();
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  // No inline handler was ever attempted (the CSP would have reported it).
  assert.deepEqual(violations, []);
  await finish(session, mallory);
});
