// The admin pages against the real server: agents, queues, the workflow (an
// error shown at its line, then fixed), flows, the widget's look seen on the
// demo page, canned responses and access keys; errors shown at their fields.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir } from 'node:fs/promises';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serverAndBrowser, openWorkspacePage } from './supervisor-support.mjs';

const here = dirname(fileURLToPath(import.meta.url));

let server;
let browser;
let admin;
serverAndBrowser((world) => ({ server, browser } = world), async () => {
  admin = await openWorkspacePage(browser, server, 'admin', { viewport: { width: 1280, height: 1000 } });
});

async function section(page, name) {
  await page.getByTestId('section-nav').locator(`[data-section="${name}"]`).click();
  await page.getByTestId(`section-${name}`).waitFor({ state: 'visible' });
}

/** The 1-based line the caret of a textarea is on. */
function caretLine(locator) {
  return locator.evaluate((ta) => ta.value.slice(0, ta.selectionStart).split('\n').length);
}

test('an agent is created (attributes checked as JSON), edited, disabled after a confirmation', async () => {
  const { page } = admin;
  await section(page, 'agents');
  await page.getByTestId('agent-new').click();
  const form = page.getByTestId('agent-form');
  await form.getByLabel('Name').fill('Cleo');
  await form.getByLabel('Console login').fill('cleo');
  await form.getByLabel('Password').fill('cleo-password-1');
  await form.getByLabel('Capacity (chats at once)').fill('4');
  const attributes = form.getByLabel('Attributes (JSON)');
  await attributes.fill('{"skills": ["billing"], level: 2}');
  await form.getByTestId('agent-save').click();
  // Refused in the page, at the field, before anything is sent.
  await form.locator('[data-error-for="attributes"]').filter({ hasText: 'Not valid JSON' }).waitFor();
  assert.equal(await attributes.getAttribute('aria-invalid'), 'true');
  assert.equal(await attributes.evaluate((el) => el === document.activeElement), true);
  assert.equal((await server.api('GET', '/agents')).length, 0);

  // A password the server refuses: its 422 names the field.
  await attributes.fill('{"skills": ["billing"], "level": 2}');
  await form.getByLabel('Password').fill('short');
  await form.getByTestId('agent-save').click();
  const passwordError = form.locator('[data-error-for="password"]');
  await passwordError.waitFor();
  assert.match(await passwordError.textContent(), /8/);
  assert.equal(await form.getByLabel('Password').getAttribute('aria-invalid'), 'true');
  assert.equal(await attributes.getAttribute('aria-invalid'), null);

  await form.getByLabel('Password').fill('cleo-password-1');
  await form.getByTestId('agent-save').click();
  await page.getByTestId('agents-status').filter({ hasText: 'Agent Cleo created.' }).waitFor();
  const [cleo] = await server.api('GET', '/agents');
  assert.deepEqual([cleo.name, cleo.login, cleo.capacity, cleo.attributes], ['Cleo', 'cleo', 4, { skills: ['billing'], level: 2 }]);
  const row = page.locator(`[data-testid="agent-row"][data-agent-id="${cleo.id}"]`);
  assert.match(await row.textContent(), /offline/);

  // Edit: the login cannot change; the capacity does.
  await row.getByTestId('agent-edit').click();
  assert.equal(await form.getByLabel('Console login').getAttribute('readonly'), '');
  await form.getByLabel('Capacity (chats at once)').fill('2');
  await form.getByTestId('agent-save').click();
  await page.getByTestId('agents-status').filter({ hasText: 'Agent Cleo saved.' }).waitFor();
  assert.equal((await server.api('GET', `/agents/${cleo.id}`)).capacity, 2);

  // A token for an integration acting as Cleo, shown once; revoking them all.
  await row.getByTestId('agent-token-issue').click();
  const token = await page.getByTestId('agent-token-value').textContent();
  assert.match(token, /^sba_/);
  assert.equal((await server.api('GET', `/agents/${cleo.id}`, undefined, { token })).name, 'Cleo');
  await page.getByTestId('agent-token').getByRole('button', { name: 'Done' }).click();
  await page.getByTestId('agent-token').waitFor({ state: 'hidden' });
  await row.getByTestId('agent-token-revoke').click();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('agents-status').filter({ hasText: '1 token of Cleo revoked.' }).waitFor();
  await assert.rejects(server.api('GET', `/agents/${cleo.id}`, undefined, { token }), (err) => err.status === 401);

  // Disabling asks first; cancelling changes nothing.
  await row.getByTestId('agent-toggle').click();
  const confirm = page.getByTestId('confirm-dialog');
  await confirm.filter({ hasText: 'Disable Cleo?' }).waitFor();
  await confirm.getByTestId('confirm-cancel').click();
  await confirm.waitFor({ state: 'hidden' });
  assert.equal((await server.api('GET', `/agents/${cleo.id}`)).enabled, true);
  await row.getByTestId('agent-toggle').click();
  await confirm.getByTestId('confirm-ok').click();
  await row.getByTestId('agent-enabled').filter({ hasText: 'Disabled' }).waitFor();
  assert.equal((await server.api('GET', `/agents/${cleo.id}`)).enabled, false);
  await row.getByTestId('agent-toggle').filter({ hasText: 'Enable' }).click();
  await row.getByTestId('agent-enabled').filter({ hasText: 'Enabled' }).waitFor();
});

test('a queue is created; a wrong expression is shown at its field', async () => {
  const { page } = admin;
  await section(page, 'queues');
  await page.getByTestId('queue-new').click();
  const form = page.getByTestId('queue-form');
  await form.getByLabel('Name', { exact: true }).fill('billing');
  const expression = form.getByLabel('Who serves it (CEL expression over agent)');
  await expression.fill('"billing" in agent.skills &&');
  await form.getByLabel('Ordering').selectOption('least_busy');
  await form.getByLabel('Offer timeout (seconds)').fill('45');
  await form.getByLabel('First reply within (seconds)').fill('90');
  await form.getByTestId('queue-save').click();
  await form.locator('[data-error-for="expression"]').filter({ hasText: 'syntax error' }).waitFor();
  assert.equal(await expression.getAttribute('aria-invalid'), 'true');
  assert.equal(await expression.evaluate((el) => el === document.activeElement), true);

  await expression.fill('"billing" in agent.skills');
  await form.getByTestId('queue-save').click();
  await page.getByTestId('queues-status').filter({ hasText: 'Queue billing created.' }).waitFor();
  const [q] = await server.api('GET', '/queues');
  assert.deepEqual([q.name, q.expression, q.ordering, q.offer_timeout_secs, q.first_reply_secs, q.reply_secs],
    ['billing', '"billing" in agent.skills', 'least_busy', 45, 90, null]);

  // Editing takes a limit off again (an empty number is "none").
  await page.locator(`[data-testid="queue-row"][data-queue-id="${q.id}"]`).getByTestId('queue-edit').click();
  await form.getByLabel('First reply within (seconds)').fill('');
  await form.getByTestId('queue-save').click();
  await page.getByTestId('queues-status').filter({ hasText: 'Queue billing saved.' }).waitFor();
  assert.equal((await server.api('GET', `/queues/${q.id}`)).first_reply_secs, null);
});

test('a workflow with a typo shows the error at its line; fixed, it applies', async () => {
  const { page } = admin;
  await section(page, 'workflow');
  const editor = page.getByTestId('workflow-editor');
  await page.getByTestId('workflow-version').filter({ hasText: 'No workflow yet' }).waitFor();
  admin.problems.length = 0; // the 404 of "no workflow yet" is expected
  const source = [
    'filters:',
    '  - name: billing',
    '    if: chat.attributes.topic == "billing"',
    '    steps:',
    '      - queue: billing',
    '        timout: 60s',
    'default:',
    '  queue: billing',
    '',
  ].join('\n');
  await editor.fill(source);
  await page.getByTestId('workflow-save').click();
  const error = page.getByTestId('workflow-editor-error');
  await error.filter({ hasText: 'Line 6, column 9: unknown field `timout`' }).waitFor();
  assert.match(await error.textContent(), /did you mean `timeout`/);
  // At the line: its number marked, the line highlighted, the caret on it.
  const marked = page.getByTestId('workflow-editor-gutter').locator('.error-line');
  assert.deepEqual(await marked.allTextContents(), ['6']);
  await page.getByTestId('workflow-editor-error-band').waitFor({ state: 'visible' });
  assert.equal(await editor.evaluate((el) => el === document.activeElement), true);
  assert.equal(await caretLine(editor), 6);
  assert.equal(await editor.getAttribute('aria-invalid'), 'true');
  // The band sits on line 6: its top is five line heights below line 1's.
  const bandTop = await page.getByTestId('workflow-editor-error-band').evaluate((band) => {
    const ta = band.parentElement.querySelector('textarea');
    const lh = parseFloat(getComputedStyle(ta).lineHeight);
    return Math.round((parseFloat(band.style.top) - parseFloat(getComputedStyle(ta).paddingTop) + ta.scrollTop) / lh) + 1;
  });
  assert.equal(bandTop, 6);
  admin.problems.length = 0; // the 422 was the point

  // Fixing the line (typing clears the mark) and applying it.
  await editor.fill(source.replace('timout', 'timeout'));
  assert.equal(await marked.count(), 0);
  await page.getByTestId('workflow-save').click();
  await page.getByTestId('workflow-status').filter({ hasText: 'Workflow applied (version 1).' }).waitFor();
  const wf = await server.api('GET', '/workflow');
  assert.equal(wf.workflow.filters[0].steps[0].timeout, 60);
});

test('flows: problems shown at their lines, then a flow deployed and listed', async () => {
  const { page } = admin;
  await section(page, 'flows');
  const editor = page.getByTestId('flow-editor');
  await editor.fill('name: thanks\nsteps:\n  hello:\n    type: send_message\n    text: "Thanks!"\n    next: nowhere\n  bye:\n    type: send_message\n    next: end\n');
  await page.getByTestId('flow-validate').click();
  const error = page.getByTestId('flow-editor-error');
  await error.filter({ hasText: '2 problems' }).waitFor();
  assert.equal(await caretLine(editor), 8);
  // Each problem moves to its line.
  await error.getByRole('button', { name: /Line 6, column 11: dangling transition/ }).click();
  assert.equal(await caretLine(editor), 6);
  assert.deepEqual(await page.getByTestId('flow-editor-gutter').locator('.error-line').allTextContents(), ['6']);
  admin.problems.length = 0;

  await editor.fill('name: thanks\ndescription: Says thanks.\nsteps:\n  hello:\n    type: send_message\n    text: "Thanks!"\n    next: end\n');
  await page.getByTestId('flow-validate').click();
  await page.getByTestId('flow-status').filter({ hasText: 'Valid: thanks, 1 step.' }).waitFor();
  await page.getByTestId('flow-deploy').click();
  await page.getByTestId('flow-status').filter({ hasText: 'Deployed thanks version 1.' }).waitFor();
  await page.locator('[data-testid="flow-row"][data-flow="thanks"]').filter({ hasText: 'Says thanks.' }).waitFor();
});

test('the widget: colour, title and pre-chat fields saved, seen on the demo page; snippet to copy', async () => {
  const { page, context } = admin;
  await section(page, 'entry-points');
  const epId = await server.entryPointId();
  await page.locator(`[data-testid="entry-point-row"][data-entry-point-id="${epId}"]`).getByTestId('entry-point-edit').click();
  const form = page.getByTestId('entry-point-form');

  // A wrong origin is shown at the origins field.
  const origins = form.getByLabel('Allowed origins (one per line)');
  await origins.fill('shop.example.com');
  await form.getByTestId('entry-point-save').click();
  await form.locator('[data-error-for="allowed_origins"]').filter({ hasText: 'is not an origin' }).waitFor();
  assert.equal(await origins.getAttribute('aria-invalid'), 'true');
  admin.problems.length = 0;
  await origins.fill(`https://shop.example.com\n${server.baseUrl}`);

  await form.getByLabel('Title').fill('Acme help');
  await form.getByLabel('Accent colour').fill('#aa3300');
  await form.getByLabel('Greeting').fill('Hello from Acme!');
  // Two pre-chat fields, the second a select, then reordered.
  await form.getByTestId('prechat-add').click();
  let items = form.getByTestId('prechat-item');
  await items.nth(0).getByLabel('Name').fill('topic');
  await items.nth(0).getByLabel('Label').fill('Topic');
  await items.nth(0).getByLabel('Kind').selectOption('select');
  await items.nth(0).getByLabel('Options (one per line)').fill('Billing\nDelivery');
  await form.getByTestId('prechat-add').click();
  await items.nth(1).getByLabel('Name').fill('1bad name');
  await items.nth(1).getByLabel('Label').fill('Your name');
  await items.nth(1).getByLabel('Required').check();
  await items.nth(1).getByRole('button', { name: 'Move up field 2' }).click();
  items = form.getByTestId('prechat-item');
  assert.equal(await items.nth(0).getByLabel('Label').inputValue(), 'Your name');
  // The server refuses the name: the error is at that field, in its new place.
  await form.getByTestId('entry-point-save').click();
  const badName = items.nth(0).getByLabel('Name');
  await items.nth(0).locator('.error').filter({ hasText: 'letters, digits and _' }).waitFor();
  assert.equal(await badName.getAttribute('aria-invalid'), 'true');
  admin.problems.length = 0;
  await badName.fill('display_name');
  await form.getByTestId('entry-point-save').click();
  await page.getByTestId('entry-points-status').filter({ hasText: 'Entry point Website saved.' }).waitFor();

  const widget = await (await fetch(`${server.baseUrl}/api/v1/entry-points/${epId}/widget`)).json();
  assert.equal(widget.style.accent_color, '#aa3300');
  assert.equal(widget.style.title, 'Acme help');
  assert.deepEqual(widget.prechat.fields.map((f) => [f.name, f.kind, f.required]), [['display_name', 'text', true], ['topic', 'select', false]]);
  assert.deepEqual(widget.prechat.fields[1].options, ['Billing', 'Delivery']);

  // The snippet and the preview.
  assert.equal(await page.getByTestId('entry-point-snippet').textContent(),
    `<script src="${server.baseUrl}/widget.js" data-entry-point="${epId}" async></script>`);
  const [demo] = await Promise.all([context.waitForEvent('page'), page.getByTestId('entry-point-preview').click()]);
  await demo.waitForLoadState();
  assert.equal(new URL(demo.url()).pathname, '/demo/');
  // The widget on the demo page wears the new colour and title once its panel loads.
  await demo.getByTestId('launcher').click();
  await demo.frameLocator('[data-testid="widget-frame"]').getByText('Acme help').first().waitFor();
  await demo.waitForFunction(() => [...document.querySelectorAll('body *')].some((el) => el.shadowRoot
    && el.shadowRoot.querySelector('.launcher')
    && getComputedStyle(el.shadowRoot.querySelector('.launcher')).backgroundColor === 'rgb(170, 51, 0)'));
  await demo.close();
});

test('a new entry point: idle timers checked by the server, then created with its snippet', async () => {
  const { page } = admin;
  await section(page, 'entry-points');
  await page.getByTestId('entry-point-new').click();
  const form = page.getByTestId('entry-point-form');
  await form.getByLabel('Name', { exact: true }).fill('Shop');
  await form.getByLabel('Allowed origins (one per line)').fill('https://shop.example.com');
  await form.getByLabel('Customer idle after (seconds)').fill('120');
  await form.getByLabel('Disconnect after (seconds)').fill('60');
  await form.getByTestId('entry-point-save').click();
  const idle = form.getByLabel('Customer idle after (seconds)');
  await form.locator('[data-error-for="idle"]').filter({ hasText: 'greater than' }).waitFor();
  assert.equal(await idle.getAttribute('aria-invalid'), 'true');
  admin.problems.length = 0;
  await form.getByLabel('Disconnect after (seconds)').fill('600');
  await form.getByTestId('entry-point-save').click();
  await page.getByTestId('entry-points-status').filter({ hasText: 'Entry point Shop created.' }).waitFor();
  const shop = (await server.api('GET', '/entry-points')).find((ep) => ep.name === 'Shop');
  assert.deepEqual([shop.allowed_origins, shop.idle], [['https://shop.example.com'], { idle_after_secs: 120, disconnect_after_secs: 600 }]);
  await page.locator(`[data-testid="entry-point-row"][data-entry-point-id="${shop.id}"]`).waitFor();
  // The editor stays open on the new entry point, with its snippet.
  await page.getByTestId('entry-point-form').getByRole('heading', { name: 'Edit Shop' }).waitFor();
  assert.match(await page.getByTestId('entry-point-snippet').textContent(), new RegExp(`data-entry-point="${shop.id}"`));
});

test('schedules: a wrong time shown at its line, saved, followed by a queue, deleted after a confirmation', async () => {
  const { page } = admin;
  await section(page, 'schedules');
  const editor = page.getByTestId('schedule-editor');
  await editor.fill('name: support\ntime_zone: Europe/Paris\nweekly:\n  mon: [["09:00", "17:30"]]\n  tue: [["09:00", "25:00"]]\n');
  await page.getByTestId('schedule-save').click();
  await page.getByTestId('schedule-editor-error').filter({ hasText: 'Line 5, column 19' }).waitFor();
  assert.equal(await caretLine(editor), 5);
  admin.problems.length = 0;
  await editor.fill('name: support\ntime_zone: Europe/Paris\nweekly:\n  mon: [["09:00", "17:30"]]\n  tue: [["09:00", "12:00"]]\n');
  await page.getByTestId('schedule-save').click();
  await page.getByTestId('schedules-status').filter({ hasText: 'Schedule support saved.' }).waitFor();
  await page.locator('[data-testid="schedule-row"][data-schedule="support"]').filter({ hasText: 'mon, tue' }).waitFor();

  // Editing it again shows what is stored; a queue can follow it.
  await section(page, 'queues');
  await page.getByTestId('queue-edit').first().click();
  await page.getByTestId('queue-form').getByLabel('Hours (schedule)').selectOption('support');
  await page.getByTestId('queue-save').click();
  await page.getByTestId('queues-status').filter({ hasText: 'saved' }).waitFor();
  assert.equal((await server.api('GET', '/queues'))[0].schedule, 'support');

  // Deleting it is refused while the queue follows it; the reason is shown.
  await section(page, 'schedules');
  const row = page.locator('[data-testid="schedule-row"][data-schedule="support"]');
  await row.getByTestId('schedule-delete').click();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('section-schedules').getByRole('alert').filter({ hasText: 'Could not delete support' }).waitFor();
  admin.problems.length = 0;
  await server.api('PATCH', `/queues/${(await server.api('GET', '/queues'))[0].id}`, { schedule: null });
  await row.getByTestId('schedule-delete').click();
  await page.getByTestId('confirm-ok').click();
  await page.getByTestId('schedules-status').filter({ hasText: 'Schedule support deleted.' }).waitFor();
  await row.waitFor({ state: 'detached' });
});

test('activities: the workspace’s own are added and deleted; the built-in ones stay', async () => {
  const { page } = admin;
  await section(page, 'activities');
  const form = page.getByTestId('activity-form');
  await form.getByLabel('Name').fill('lunch');
  await page.getByTestId('activity-create').click();
  const lunch = page.locator('[data-testid="activity-row"][data-activity="lunch"]');
  await lunch.filter({ hasText: 'no' }).waitFor();
  assert.ok((await server.api('GET', '/activities')).some((a) => a.name === 'lunch' && a.available === false));
  assert.equal(await page.locator('[data-testid="activity-row"][data-activity="away"]').getByTestId('activity-delete').count(), 0);
  await lunch.getByTestId('activity-delete').click();
  await page.getByTestId('confirm-ok').click();
  await lunch.waitFor({ state: 'detached' });
  assert.equal((await server.api('GET', '/activities')).some((a) => a.name === 'lunch'), false);
});

test('canned responses are edited as a list and saved into the settings', async () => {
  const { page } = admin;
  await section(page, 'canned');
  await page.getByTestId('canned-add').click();
  let items = page.getByTestId('canned-item');
  await items.nth(0).getByLabel('Short name').fill('hello there');
  await items.nth(0).getByLabel('Title').fill('Greeting');
  await items.nth(0).getByLabel('Text').fill('Hello! How can I help?');
  await page.getByTestId('canned-add').click();
  await items.nth(1).getByLabel('Short name').fill('bye');
  await items.nth(1).getByLabel('Title').fill('Goodbye');
  await items.nth(1).getByLabel('Text').fill('Thanks for chatting.');
  await page.getByTestId('canned-save').click();
  const bad = items.nth(0).getByLabel('Short name');
  await items.nth(0).locator('.error').filter({ hasText: 'letters, digits' }).waitFor();
  assert.equal(await bad.getAttribute('aria-invalid'), 'true');
  admin.problems.length = 0;
  await bad.fill('hello');
  await page.getByTestId('canned-save').click();
  await page.getByTestId('canned-status').filter({ hasText: 'Saved 2 canned responses.' }).waitFor();
  const dir = await server.api('GET', '/directory');
  assert.deepEqual(dir.canned_responses.map((c) => c.id), ['hello', 'bye']);
  // The other settings were kept as they were.
  const settings = await server.api('GET', '/settings');
  assert.ok(settings.files.allowed_types.length > 0);

  // Removing one and saving again.
  await items.nth(0).getByRole('button', { name: 'Remove this response' }).click();
  items = page.getByTestId('canned-item');
  assert.equal(await items.count(), 1);
  await page.getByTestId('canned-save').click();
  await page.getByTestId('canned-status').filter({ hasText: 'Saved 1 canned response.' }).waitFor();
  assert.deepEqual((await server.api('GET', '/directory')).canned_responses.map((c) => c.id), ['bye']);
});

test('access keys: the secret is shown once; revoking asks first', async () => {
  const { page } = admin;
  await section(page, 'keys');
  await page.getByTestId('key-form').getByLabel('What the key is for').fill('shop back end');
  await page.getByTestId('key-create').click();
  const secret = page.getByTestId('key-secret');
  await secret.waitFor();
  const id = await page.getByTestId('key-new-id').textContent();
  assert.match(id, /^SBAK[A-Z2-7]{16}$/);
  assert.equal((await page.getByTestId('key-new-secret').textContent()).length, 40);
  const row = page.locator(`[data-testid="key-row"][data-key-id="${id}"]`);
  await row.getByTestId('key-state').filter({ hasText: 'Active' }).waitFor();
  // Shown once: coming back to the section no longer shows it.
  await section(page, 'agents');
  await section(page, 'keys');
  await row.waitFor();
  assert.equal(await secret.isVisible(), false);
  assert.equal(await page.getByTestId('key-new-secret').count(), 0);

  await row.getByTestId('key-revoke').click();
  await page.getByTestId('confirm-dialog').filter({ hasText: `Revoke the key ${id}` }).waitFor();
  await page.getByTestId('confirm-ok').click();
  await row.getByTestId('key-state').filter({ hasText: 'Revoked' }).waitFor();
  const [key] = await server.api('GET', '/access-keys');
  assert.ok(key.revoked_at);
});

test('nothing went wrong unexpectedly; a picture of the admin pages', async () => {
  const { page } = admin;
  await section(page, 'workflow');
  await page.getByTestId('workflow-editor').fill('default:\n  queue: billing\nfilters:\n  - name: vip\n    if: chat.attributes.vip == true\n    steps:\n      - queue: nowhere\n');
  await page.getByTestId('workflow-save').click();
  await page.getByTestId('workflow-editor-error').filter({ hasText: 'Line 7' }).waitFor();
  admin.problems.length = 0;
  await mkdir(join(here, 'screenshots'), { recursive: true });
  await page.screenshot({ path: join(here, 'screenshots', 'admin.png'), fullPage: true });
  assert.deepEqual(admin.unexpected(), []);
});
