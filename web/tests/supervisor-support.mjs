// Helpers for the supervisor and admin pages' browser tests: a page signed in
// with the workspace key (its errors collected), and axe-core's serious and
// critical findings.

import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { before, after } from 'node:test';
import { ADMIN_KEY, startServer, launchBrowser } from './harness.mjs';

const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * A server and a browser for a test file: started before its tests (then
 * `setup(server)` runs), stopped after them. `take({server, browser})` is
 * called once both are up.
 */
export function serverAndBrowser(take, setup = async () => {}) {
  let server;
  let browser;
  before(async () => {
    server = await startServer();
    browser = await launchBrowser();
    take({ server, browser });
    await setup(server, browser);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });
}

/** Requests a page may fail on purpose (the optional server history). */
const EXPECTED_FAILURES = [/^http 404 GET \/api\/v1\/supervisor\/history$/, /status of 404/];

/**
 * Opens `/supervisor/` or `/admin/` in a context of its own and signs in.
 * `problems` collects page errors, console errors and failed requests, but
 * the ones a test causes on purpose can be cleared with `problems.length = 0`.
 * `prepare(context)` runs before the page opens (e.g. to route its sockets).
 */
export async function openWorkspacePage(browser, server, name, { key = ADMIN_KEY, viewport = { width: 1280, height: 900 }, bypassCSP = false, prepare } = {}) {
  const context = await browser.newContext({ viewport, bypassCSP });
  context.setDefaultTimeout(60000); // a loaded machine may be slow; every wait is still for a condition
  await prepare?.(context);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('response', (r) => {
    if (r.status() >= 400) problems.push(`http ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
  });
  await page.goto(`${server.baseUrl}/${name}/`);
  await page.getByTestId('login-token').fill(key);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('app-view').waitFor({ state: 'visible' });
  return { context, page, problems, unexpected: () => problems.filter((p) => !EXPECTED_FAILURES.some((re) => re.test(p))) };
}

/** Serious and critical axe violations, one line each. */
export async function axeProblems(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`);
}
