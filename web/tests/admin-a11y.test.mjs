// Accessibility of the admin pages: axe-core finds no serious or critical
// problem on the sign-in form nor on any section, with its forms open and an
// error shown; every section is reached from the keyboard.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAndBrowser, openWorkspacePage, axeProblems } from './supervisor-support.mjs';

let server;
let browser;
serverAndBrowser((world) => ({ server, browser } = world), async (s) => {
  await s.setupRouting({ agents: [{ name: 'Ann', login: 'ann', password: 'ann-password-1' }] });
  await s.api('POST', '/access-keys', { name: 'shop back end' });
  await s.api('PUT', '/settings', { canned_responses: [{ id: 'hello', title: 'Greeting', text: 'Hello!' }] });
});

test('the sign-in form passes axe and explains which key to use', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/admin/`);
  await page.getByTestId('login-form').waitFor();
  assert.match(await page.getByTestId('login-form').textContent(), /printed when the\s+server first started/);
  await page.getByTestId('login-token').fill('wrong');
  await page.getByTestId('login-submit').click();
  await page.getByTestId('login-error').filter({ hasText: 'not valid' }).waitFor();
  assert.deepEqual(await axeProblems(page), []);
  await context.close();
});

test('every section, its forms open and an error shown, passes axe; the sections are reached by keyboard', async () => {
  const admin = await openWorkspacePage(browser, server, 'admin');
  const { page } = admin;
  const open = async (name) => {
    await page.getByTestId('section-nav').locator(`[data-section="${name}"]`).focus();
    await page.keyboard.press('Enter');
    await page.getByTestId(`section-${name}`).waitFor({ state: 'visible' });
    // Focus moves to the section's heading.
    assert.equal(await page.evaluate(() => document.activeElement.id), `h-${name}`);
  };

  await open('entry-points');
  await page.getByTestId('entry-point-edit').first().click();
  await page.getByTestId('prechat-add').click();
  await page.getByTestId('entry-point-form').getByLabel('Allowed origins (one per line)').fill('not an origin');
  await page.getByTestId('entry-point-save').click();
  await page.locator('[data-error-for="allowed_origins"]').filter({ hasText: 'not an origin' }).waitFor();
  assert.deepEqual(await axeProblems(page), [], 'entry points');

  await open('agents');
  await page.getByTestId('agent-new').click();
  await page.getByTestId('agent-save').click();
  await page.getByTestId('agent-form').locator('[data-error-for="name"]').waitFor();
  assert.deepEqual(await axeProblems(page), [], 'agents');

  await open('queues');
  await page.getByTestId('queue-edit').first().click();
  assert.deepEqual(await axeProblems(page), [], 'queues');

  /** A YAML editor of a section showing a refused document at its line. */
  const yamlError = async (name, editor, source, button, line) => {
    await open(name);
    await page.getByTestId(editor).fill(source);
    await page.getByTestId(button).click();
    await page.getByTestId(`${editor}-error`).filter({ hasText: `Line ${line}` }).waitFor();
    assert.deepEqual(await axeProblems(page), [], name);
  };
  await yamlError('workflow', 'workflow-editor', 'default:\n  queue: nowhere\n', 'workflow-save', 2);
  await yamlError('schedules', 'schedule-editor', 'name: x\ntime_zone: UTC\nweekly:\n  mon: [["09:00", "25:00"]]\n', 'schedule-save', 4);

  await open('activities');
  await page.getByTestId('activity-row').first().waitFor();
  assert.deepEqual(await axeProblems(page), [], 'activities');

  await yamlError('flows', 'flow-editor', 'name: x\nsteps:\n  a:\n    type: nope\n', 'flow-validate', 4);

  await open('canned');
  await page.getByTestId('canned-item').first().waitFor();
  assert.deepEqual(await axeProblems(page), [], 'canned responses');

  await open('keys');
  await page.getByTestId('key-row').first().waitFor();
  await page.getByTestId('key-revoke').first().click();
  await page.getByTestId('confirm-dialog').waitFor();
  assert.deepEqual(await axeProblems(page), [], 'keys with the confirmation open');
  // Escape closes the confirmation and nothing is revoked.
  await page.keyboard.press('Escape');
  await page.getByTestId('confirm-dialog').waitFor({ state: 'hidden' });
  assert.equal((await server.api('GET', '/access-keys'))[0].revoked_at, null);
  assert.deepEqual(admin.unexpected().filter((p) => !/ 422 /.test(p) && !/status of 422/.test(p)), []);
  await admin.context.close();
});
