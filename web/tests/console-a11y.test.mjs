// Accessibility of the console: axe-core finds no serious or critical problem
// on the sign-in page nor on a busy console (an offer waiting, a chat open);
// the console works at tablet width; a screenshot is kept for people to look at.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { routedChat, startCustomer } from './harness.mjs';
import { ANN, useConsoleWorld, signIn, finish } from './console-support.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const world = useConsoleWorld({ agents: [{ ...ANN, capacity: 2 }] });

/** Serious and critical axe violations, one line each. */
async function axeProblems(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}

test('the sign-in page has no serious accessibility problem', async () => {
  const { server, browser } = world;
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/console/`);
  await page.getByTestId('login-form').waitFor();
  assert.deepEqual(await axeProblems(page), []);
  // The error is announced (role=alert) and the fields are labelled.
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').filter({ hasText: 'Enter your login and password.' }).waitFor();
  assert.equal(await page.getByLabel('Login').count(), 1);
  assert.equal(await page.getByLabel('Password').count(), 1);
  await context.close();
});

test('the busy console has no serious accessibility problem, works at tablet width, and is pictured', async () => {
  const { server, browser } = world;
  const session = await signIn(world);
  const { page } = session;
  const jane = await routedChat(browser, server, page, { displayName: 'Jane Doe', firstMessage: 'Hi, my invoice INV-1042 is wrong.' });
  await page.getByTestId('composer-input').fill('Let me check that for you, Jane.');
  await page.getByTestId('composer-input').press('Enter');
  await jane.waitForEvent('message', { content: 'Let me check that for you, Jane.' });
  await jane.send('Thank you! It was charged **twice**.', { contentType: 'text/markdown' });
  await page.getByTestId('transcript').getByText('Thank you!').waitFor();
  const max = await startCustomer(browser, server, { displayName: 'Max' });
  await max.send('Is anyone there?');
  await page.getByTestId('offer').waitFor();

  assert.deepEqual(await axeProblems(page), []);
  await mkdir(join(here, 'screenshots'), { recursive: true });
  await page.screenshot({ path: join(here, 'screenshots', 'console.png') });

  // Keyboard: Tab from the offer reaches Accept; the composer is reachable and labelled.
  await page.getByTestId('offer').getByTestId('offer-accept').focus();
  assert.equal(await page.evaluate(() => document.activeElement.dataset.testid), 'offer-accept');
  assert.equal(await page.getByLabel('Message').count(), 1);

  // Tablet width: nothing overflows sideways, the chat and composer stay usable.
  await page.setViewportSize({ width: 768, height: 1024 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `overflows by ${overflow}px`);
  assert.equal(await page.getByTestId('composer-input').isVisible(), true);
  assert.equal(await page.getByTestId('chat-list').isVisible(), true);
  await page.screenshot({ path: join(here, 'screenshots', 'console-tablet.png') });
  assert.deepEqual(await axeProblems(page), []);
  await finish(session, jane, max);
});
