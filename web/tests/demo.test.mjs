// `switchboard demo` as a new user tries it: run the command, open the two
// URLs it prints, and chat from the widget to the console with no other
// step: the greeter bot asks what the chat is about, the answer routes it,
// Ann (signed in with the printed password) accepts it, and they talk.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serverBinary, launchBrowser, setPresence, acceptOffer } from './harness.mjs';
import { widgetFrame } from './widget-support.mjs';

let demo;
let dataDir;
let browser;
const urls = {};

/** Runs the demo and reads the URLs it prints (it prints them once it is ready). */
function startDemo(dir) {
  const child = spawn(serverBinary(), ['demo', '--listen', '127.0.0.1:0', '--data-dir', dir], {
    env: { ...process.env, SWITCHBOARD_LOG: 'warn' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const printed = new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const url = line.match(/http:\/\/\S+/)?.[0];
      if (line.includes('Customer')) urls.customer = url;
      if (line.includes('Agent console')) urls.console = url;
      if (line.includes('password `')) urls.password = line.match(/password `([^`]+)`/)[1];
      if (line.includes('Stop with Ctrl-C')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`switchboard demo exited (${code}) before printing its URLs`)));
  });
  return { child, printed };
}

before(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'sb-demo-'));
  const started = startDemo(dataDir);
  demo = started.child;
  await started.printed;
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  if (demo && demo.exitCode === null) {
    const exited = new Promise((resolve) => demo.once('exit', resolve));
    demo.kill('SIGTERM');
    await exited;
  }
  await rm(dataDir, { recursive: true, force: true });
});

test('a new user chats from the demo widget to the demo console', async () => {
  assert.match(urls.customer, /\/demo\/\?entry_point=ept_/);
  assert.match(urls.console, /\/console\/$/);
  assert.ok(urls.password, 'the demo prints the agents\' password');

  // The agent: the printed console URL, the printed login and password.
  const agentContext = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const console_ = await agentContext.newPage();
  await console_.goto(urls.console);
  await console_.getByTestId('login-name').fill('ann');
  await console_.getByTestId('login-password').fill(urls.password);
  await console_.getByTestId('login-submit').click();
  await console_.getByTestId('app-view').waitFor({ state: 'visible' });
  await setPresence(console_, 'available');

  // The customer: the printed page, its chat button, the pre-chat form.
  const customerContext = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const site = await customerContext.newPage();
  const problems = [];
  site.on('pageerror', (err) => problems.push(err.message));
  await site.goto(urls.customer);
  await site.getByTestId('launcher').click();
  const frame = await widgetFrame(site);
  await frame.getByTestId('prechat-display_name').fill('Dana');
  await frame.getByTestId('start-chat').click();
  const messages = frame.getByTestId('messages');
  await messages.getByText('What can we help you with?').waitFor();
  const input = frame.getByTestId('composer-input');
  await input.fill('Billing');
  await input.press('Enter');
  await messages.getByText('an agent from Billing will be with you shortly').waitFor();

  // The chat reaches Ann's console as an offer; she takes it and they talk.
  const offer = console_.getByTestId('offer').first();
  await offer.waitFor();
  const conversationId = await offer.getAttribute('data-conversation-id');
  await acceptOffer(console_, conversationId);
  await console_.getByTestId('transcript').getByText('Billing', { exact: true }).waitFor();
  await console_.getByTestId('composer-input').fill('Hi Dana, I can help with billing.');
  await console_.getByTestId('composer-input').press('Enter');
  await messages.getByText('Hi Dana, I can help with billing.').waitFor();
  await input.fill('Thanks!');
  await input.press('Enter');
  await console_.getByTestId('transcript').getByText('Thanks!').waitFor();

  assert.deepEqual(problems, []);
  await customerContext.close();
  await agentContext.close();
});
