// Test harness for the browser tests: starts the real server binary
// (SWITCHBOARD_BIN) on a free port with a fresh data dir, sets a workspace up
// with the admin key (agents, a queue, the workflow, flows), and launches
// Debian's Chromium through playwright-core. Nothing here sleeps to let things
// settle: every wait is for a condition, with a deadline.

import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const ADMIN_KEY = 'test-admin-key-0123456789';
export const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
const CHROMIUM_ARGS = [
  '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync',
];

/** The server binary: SWITCHBOARD_BIN, else the debug build in this repository. */
export function serverBinary() {
  const path = process.env.SWITCHBOARD_BIN || join(repoRoot, 'target', 'debug', 'switchboard');
  if (!existsSync(path)) throw new Error(`no server binary at ${path}: build it or set SWITCHBOARD_BIN`);
  return path;
}

/** Polls `check` until it returns a truthy value, or fails after `timeoutMs`. */
export async function waitFor(check, { timeoutMs = 30000, intervalMs = 50, what = 'condition' } = {}) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Starts `switchboard serve` on 127.0.0.1:0 with a fresh data dir.
 * @returns {Promise<Server>}
 */
export async function startServer({ args = [] } = {}) {
  const dataDir = await mkdtemp(join(tmpdir(), 'sb-web-'));
  const server = new Server(dataDir, args);
  await server.spawn('127.0.0.1:0');
  return server;
}

export class ApiError extends Error {
  constructor(status, body, what) {
    super(`${what} → ${status} ${typeof body === 'string' ? body : JSON.stringify(body)}`);
    this.status = status;
    this.body = body;
  }
}

export class Server {
  constructor(dataDir, args) {
    this.dataDir = dataDir;
    this.args = args;
    this.baseUrl = null;
    this.child = null;
    this.log = '';
  }

  output() {
    return this.log;
  }

  /** Runs the binary on `listen` and waits until it is ready. */
  async spawn(listen) {
    const child = spawn(serverBinary(), [
      'serve', '--listen', listen, '--data-dir', this.dataDir, '--admin-key', ADMIN_KEY,
      '--presence-grace-secs', '5', ...this.args,
    ], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SWITCHBOARD_LOG: process.env.SWITCHBOARD_LOG || 'warn' } });
    this.child = child;
    child.stdout.on('data', (d) => { this.log += d; });
    child.stderr.on('data', (d) => { this.log += d; });
    const lock = join(this.dataDir, 'switchboard.db.lock');
    const address = await waitFor(async () => {
      if (child.exitCode !== null) throw new Error(`server exited:\n${this.log}`);
      if (!existsSync(lock)) return null;
      const m = /"address"\s*:\s*"([^"]+)"/.exec(await readFile(lock, 'utf8'));
      return m && !m[1].endsWith(':0') && (listen.endsWith(':0') || m[1] === listen) ? m[1] : null;
    }, { timeoutMs: 30000, what: 'the server to listen' });
    this.baseUrl = `http://${address}`;
    await waitFor(async () => (await fetch(`${this.baseUrl}/readyz`)).ok, { what: '/readyz' });
  }

  /** Stops the process, keeping its data and address for `resume()`. */
  pause() {
    return this.#kill();
  }

  /** Starts the process again on the same address and data. */
  resume() {
    return this.spawn(new URL(this.baseUrl).host);
  }

  async restart() {
    await this.pause();
    await this.resume();
  }

  async #kill() {
    if (this.child.exitCode !== null) return;
    const done = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
    if (this.child.exitCode === null) {
      this.child.kill('SIGKILL');
      await done;
    }
  }

  /** A REST call under /api/v1 (the admin key unless `token` is given). */
  async api(method, path, body, { token = ADMIN_KEY, contentType = 'application/json', headers = {} } = {}) {
    const res = await fetch(`${this.baseUrl}/api/v1${path}`, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body !== undefined ? { 'content-type': contentType } : {}),
        ...headers,
      },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let parsed = text;
    try { parsed = text ? JSON.parse(text) : null; } catch { /* not JSON */ }
    if (!res.ok) throw new ApiError(res.status, parsed, `${method} ${path}`);
    return parsed;
  }

  async entryPointId() {
    const eps = await this.api('GET', '/entry-points');
    const list = Array.isArray(eps) ? eps : eps.entry_points;
    return list[0].id;
  }

  /** One queue `general`, a workflow sending every chat to it, and the agents. */
  async setupRouting({ agents = [], queue = {} } = {}) {
    const q = await this.api('POST', '/queues', { name: 'general', offer_timeout_secs: 60, ...queue });
    await this.api('PUT', '/workflow', { default: { queue: 'general' } });
    const ep = await this.entryPointId();
    await this.api('PATCH', `/entry-points/${ep}`, { allowed_origins: [this.baseUrl] }).catch(() => {});
    const created = [];
    for (const a of agents) {
      created.push(await this.api('POST', '/agents', {
        name: a.name, login: a.login, password: a.password, capacity: a.capacity || 3,
        attributes: a.attributes || {},
      }));
    }
    return { queue: q, entryPointId: ep, agents: created };
  }

  /** Deploys the use-of-funds example (event type and both flows). */
  async deployUseOfFunds() {
    const dir = join(repoRoot, 'examples', 'use-of-funds');
    await this.api('PUT', '/event-types/use_of_funds', await readFile(join(dir, 'event-type.json'), 'utf8'));
    await this.api('POST', '/flows', await readFile(join(dir, 'customer.yaml'), 'utf8'), { contentType: 'application/yaml' });
    await this.api('POST', '/flows', await readFile(join(dir, 'agent.yaml'), 'utf8'), { contentType: 'application/yaml' });
  }

  async stop() {
    await this.#kill();
    await rm(this.dataDir, { recursive: true, force: true });
  }
}

export async function launchBrowser() {
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
}

/**
 * A customer in its own browser context, driving the SDK's ChatClient in a
 * page of the server's origin. Events it receives are kept in `window.__events`.
 */
export async function startCustomer(browser, server, { displayName = 'Jane', attributes = {}, entryPointId } = {}) {
  const context = await browser.newContext({ bypassCSP: true });
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/healthz`);
  const ep = entryPointId || (await server.entryPointId());
  const info = await page.evaluate(async ({ baseUrl, ep, displayName, attributes }) => {
    const { ChatClient } = await import('/assets/sdk/index.js');
    window.__events = [];
    window.__typing = [];
    const chat = await ChatClient.start({ baseUrl, entryPointId: ep, displayName, attributes });
    chat.on('event', (e) => window.__events.push(e));
    window.__chat = chat;
    return { conversationId: chat.conversationId, token: chat.token };
  }, { baseUrl: server.baseUrl, ep, displayName, attributes });
  return new Customer(context, page, info);
}

export class Customer {
  constructor(context, page, { conversationId, token }) {
    this.context = context;
    this.page = page;
    this.conversationId = conversationId;
    this.token = token;
  }

  send(text, { contentType = 'text/plain' } = {}) {
    return this.page.evaluate(([t, ct]) => window.__chat.send(t, { contentType: ct }), [text, contentType]);
  }

  typing(preview) {
    return this.page.evaluate((p) => window.__chat.typing(p), preview);
  }

  events() {
    return this.page.evaluate(() => window.__events);
  }

  /** Waits for an event the customer received of `type` whose fields equal `fields`. */
  async waitForEvent(type, fields = {}, timeoutMs = 30000) {
    const handle = await this.page.waitForFunction(
      ([t, f]) => window.__events.find((e) => e.type === t
        && Object.entries(f).every(([k, v]) => JSON.stringify(e[k]) === JSON.stringify(v))),
      [type, fields], { timeout: timeoutMs },
    );
    return handle.jsonValue();
  }

  /** Uploads bytes as a file (optionally answering a file request). */
  upload({ name, contentType, bytes, requestId }) {
    return this.page.evaluate(async ({ name, contentType, bytes, requestId }) => {
      const blob = new Blob([new Uint8Array(bytes)], { type: contentType });
      const r = await window.__chat.uploadFile(blob, { name, contentType, requestId });
      return { attachment: r.attachment, event: r.event };
    }, { name, contentType, bytes: [...bytes], requestId });
  }

  submitForm(formId, values) {
    return this.page.evaluate(([f, v]) => window.__chat.submitForm(f, v), [formId, values]);
  }

  close() {
    return this.context.close();
  }

  /** Ends the chat (if it is still going) and closes the customer's browser context. */
  async leave() {
    await this.page.evaluate(() => window.__chat.end()).catch(() => {});
    await this.close();
  }
}

/** An agent signed in to the console in its own browser context. */
export async function openConsole(browser, server, { login, password, viewport, bypassCSP = false, prepare } = {}) {
  const context = await browser.newContext({ viewport: viewport || { width: 1280, height: 800 }, bypassCSP });
  await prepare?.(context);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => { if (msg.type() === 'error') problems.push(`console: ${msg.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400) problems.push(`http ${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`); });
  await page.goto(`${server.baseUrl}/console/`);
  await page.getByTestId('login-name').fill(login);
  await page.getByTestId('login-password').fill(password);
  await page.getByTestId('login-submit').click();
  await page.getByTestId('app-view').waitFor({ state: 'visible' });
  await page.waitForFunction(() => document.querySelector('[data-testid="connection"]')?.dataset.state === 'open');
  return { context, page, problems };
}

/** Sets the console's presence and waits for the server to confirm it. */
export async function setPresence(page, activity) {
  await page.getByTestId('presence-select').selectOption(activity);
  await page.waitForFunction((a) => document.getElementById('presence-dot')?.dataset.activity === a
    && !document.getElementById('presence-select').disabled, activity);
}

/** Accepts the offer for a conversation and waits for the chat to open. */
export async function acceptOffer(page, conversationId) {
  const offer = page.locator(`[data-testid="offer"][data-conversation-id="${conversationId}"]`);
  await offer.getByTestId('offer-accept').click();
  await offer.waitFor({ state: 'detached' });
  await page.locator(`[data-testid="chat-item"][data-conversation-id="${conversationId}"]`).waitFor();
}

/** A tiny valid PNG (1×1, red). */
export const PNG_1PX = Buffer.from(
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==',
  'base64',
);

/** A customer starts a chat and writes first; the console's agent accepts the offer. */
export async function routedChat(browser, server, page, { displayName, firstMessage = `Hello, I am ${displayName}` }) {
  const customer = await startCustomer(browser, server, { displayName });
  customer.firstMessage = await customer.send(firstMessage);
  await acceptOffer(page, customer.conversationId);
  return customer;
}

/** The console's chat list entry for a conversation. */
export function chatItem(page, conversationId) {
  return page.locator(`[data-testid="chat-item"][data-conversation-id="${conversationId}"]`);
}
