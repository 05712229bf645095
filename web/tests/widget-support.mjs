// Helpers for the widget's browser tests: a host page on another origin
// that embeds the widget with its one script tag, the widget's frame in that
// page, and an agent driven through the SDK's AgentClient in its own page.

import { createServer } from 'node:http';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { startServer, launchBrowser } from './harness.mjs';

const require = createRequire(import.meta.url);

/** The entry point's widget settings in the tests: a look and a pre-chat form. */
export const WIDGET = {
  title: 'Acme support',
  accent_color: '#0b6e4f',
  greeting: 'Hi! Ask us anything about your order.',
  prechat: [
    { name: 'display_name', label: 'Your name', required: true },
    { name: 'email', label: 'Email', kind: 'email' },
    { name: 'topic', label: 'Topic', kind: 'select', options: ['Billing', 'Delivery'] },
  ],
};

/** A site's careless CSS, which must not reach into the widget. */
const HOSTILE_CSS = `
  div, button, iframe, span, svg { display: none !important; }
  * { font-size: 40px !important; color: red !important; background: yellow !important; }
  iframe { width: 10px !important; height: 10px !important; }
  main, h1, p, a { display: block !important; }
`;

/**
 * Serves a page embedding the widget, on 127.0.0.1 with another port than
 * the chat server (another origin). The page has a strict CSP of its own and
 * (unless `hostile` is false) careless CSS, which the widget must shrug off.
 */
export async function startHostPage(server, entryPointId, { open = false, hostile = true } = {}) {
  const serverOrigin = new URL(server.baseUrl).origin;
  const http = createServer((req, res) => {
    if (req.url === '/favicon.ico') {
      res.writeHead(204).end();
      return;
    }
    if (req.url === '/host.css') {
      res.writeHead(200, { 'content-type': 'text/css' });
      res.end(HOSTILE_CSS);
      return;
    }
    if (req.url !== '/' && !req.url.startsWith('/?')) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'content-security-policy': `default-src 'none'; script-src ${serverOrigin}; frame-src ${serverOrigin}; style-src 'self'; img-src 'self'`,
      'cache-control': 'no-store',
    });
    res.end(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
${hostile ? '<link rel="stylesheet" href="/host.css">' : ''}</head>
<body><main><h1>A shop</h1><p>Welcome to the shop.</p><a href="#top" id="host-link">Top</a></main>
<script src="${serverOrigin}/widget.js" data-entry-point="${entryPointId}"${open ? ' data-open="true"' : ''} async></script>
</body></html>`);
  });
  await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve));
  const { port } = http.address();
  const origin = `http://127.0.0.1:${port}`;
  // Only host pages' origins are allowed (no `*`): they may frame the chat panel.
  const listed = await server.api('GET', '/entry-points');
  const current = (Array.isArray(listed) ? listed : listed.entry_points).find((e) => e.id === entryPointId);
  const origins = [...(current?.allowed_origins ?? []).filter((o) => o !== '*'), origin];
  await server.api('PATCH', `/entry-points/${entryPointId}`, { allowed_origins: origins, widget: WIDGET });
  return { origin, url: `${origin}/`, close: () => new Promise((resolve) => http.close(resolve)) };
}

/** The widget's frame inside a host page (found by URL: it sits in the loader's shadow root). */
export async function widgetFrame(page, { timeoutMs = 15000 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const frame = page.frames().find((f) => f.url().includes('/widget/frame'));
    if (frame) {
      await frame.waitForLoadState('domcontentloaded');
      return frame;
    }
    if (Date.now() > deadline) throw new Error('the widget frame did not appear');
    await page.waitForEvent('frameattached', { timeout: Math.max(1, deadline - Date.now()) }).catch(() => {});
  }
}

/**
 * Opens the host page in a fresh browser context and, unless `start` is
 * false, opens the widget and starts a chat as `name`.
 */
export async function openWidget(browser, host, { name = 'Jane', start = true, viewport, contextOptions = {}, prepare } = {}) {
  const context = await browser.newContext({ viewport: viewport ?? { width: 1024, height: 768 }, ...contextOptions });
  await prepare?.(context);
  const page = await context.newPage();
  const problems = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (msg) => {
    if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
  });
  await page.goto(host.url);
  await page.getByTestId('launcher').click();
  const frame = await widgetFrame(page);
  const widget = { context, page, frame, problems };
  if (start) await startChat(widget, name);
  return widget;
}

/** Fills the pre-chat form and waits for the chat view. */
export async function startChat({ frame }, name) {
  await frame.getByTestId('prechat-display_name').fill(name);
  await frame.getByTestId('start-chat').click();
  await frame.getByTestId('composer-input').waitFor({ state: 'visible' });
}

/** The conversation id of the widget's current chat (from its stored snapshot). */
export function storedChat(frame, entryPointId) {
  return frame.evaluate((ep) => JSON.parse(localStorage.getItem(`switchboard-widget:chat:${ep}`) ?? 'null'), entryPointId);
}

/**
 * An agent signed in through the SDK in a page of the server's origin. It
 * accepts every offer when `autoAccept` is set; everything it receives is
 * kept in the page (`window.__agent`).
 */
export async function startAgent(browser, server, { login, password, autoAccept = true, available = true }) {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(`${server.baseUrl}/healthz`);
  await page.evaluate(
    async ({ baseUrl, login, password, autoAccept, available }) => {
      const { AgentClient } = await import('/assets/sdk/index.js');
      const agent = await AgentClient.login({ baseUrl, login, password });
      const seen = { events: [], typing: [], offers: [], assigned: [] };
      agent.on('event', (e) => seen.events.push(e));
      agent.on('typing', (t) => seen.typing.push(t));
      agent.on('assigned', (a) => seen.assigned.push(a.conversationId));
      agent.on('offer', (offer) => {
        seen.offers.push(offer);
        if (window.__autoAccept) agent.accept(offer.id).catch(() => {});
      });
      window.__autoAccept = autoAccept;
      window.__agent = agent;
      window.__seen = seen;
      await agent.connect();
      if (available) await agent.setActivity('available');
    },
    { baseUrl: server.baseUrl, login, password, autoAccept, available },
  );
  return new Agent(context, page);
}

export class Agent {
  constructor(context, page) {
    this.context = context;
    this.page = page;
  }

  setActivity(activity) {
    return this.page.evaluate((a) => window.__agent.setActivity(a), activity);
  }

  setAutoAccept(on) {
    return this.page.evaluate((v) => {
      window.__autoAccept = v;
      for (const offer of window.__agent.offers.values()) if (v) window.__agent.accept(offer.id).catch(() => {});
    }, on);
  }

  /** Waits until the chat is assigned to the agent. */
  waitAssigned(conversationId) {
    return this.page.waitForFunction((id) => window.__seen.assigned.includes(id), conversationId, { timeout: 15000 });
  }

  send(conversationId, text, contentType = 'text/plain') {
    return this.page.evaluate(([id, t, ct]) => window.__agent.send(id, t, { contentType: ct }), [conversationId, text, contentType]);
  }

  typing(conversationId) {
    return this.page.evaluate((id) => window.__agent.typing(id), conversationId);
  }

  markRead(conversationId, messageId) {
    return this.page.evaluate(([c, m]) => window.__agent.markRead(c, m), [conversationId, messageId]);
  }

  requestFile(conversationId, recordId) {
    return this.page.evaluate(([c, r]) => window.__agent.requestFile(c, { record_id: r }), [conversationId, recordId]);
  }

  end(conversationId) {
    return this.page.evaluate((c) => window.__agent.end(c), conversationId);
  }

  /** Waits for an event in a conversation matching `pred(event)` (a function run in the page). */
  async waitForEvent(conversationId, pred, timeoutMs = 15000) {
    const handle = await this.page.waitForFunction(
      ([id, src]) => window.__seen.events.find((e) => e.conversation_id === id && new Function('e', `return (${src})(e)`)(e)),
      [conversationId, pred.toString()],
      { timeout: timeoutMs },
    );
    return handle.jsonValue();
  }

  /** Waits for a typing notice in a conversation (with this preview text, if given). */
  async waitForTyping(conversationId, text, timeoutMs = 15000) {
    const handle = await this.page.waitForFunction(
      ([id, want]) => window.__seen.typing.find((t) => t.conversationId === id && (want === null || t.text === want)),
      [conversationId, text ?? null],
      { timeout: timeoutMs },
    );
    return handle.jsonValue();
  }

  close() {
    return this.context.close();
  }
}

/** axe-core's source, to run inside the widget's frame. */
export async function axeSource() {
  return readFile(require.resolve('axe-core/axe.min.js'), 'utf8');
}

/** Runs axe in a frame; returns the serious and critical violations. */
export async function seriousViolations(frame) {
  const source = await axeSource();
  // evaluate() runs through the debugger, so the frame's CSP does not apply.
  await frame.evaluate(source);
  const results = await frame.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return results.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')) }));
}

/**
 * A network that can be cut: Chromium's offline emulation (`setOffline`)
 * fails new requests but leaves an open WebSocket working, unlike a real
 * network drop. So the chat sockets are routed through the test, which drops
 * them (and refuses new ones) while the network is cut.
 */
export class CuttableNetwork {
  constructor() {
    this.cut = false;
    this.routes = new Set();
  }

  async install(context) {
    this.context = context;
    await context.routeWebSocket(/\/api\/v1\/stream/, (ws) => {
      if (this.cut) {
        ws.close({ code: 1001, reason: 'network down' });
        return;
      }
      ws.connectToServer();
      this.routes.add(ws);
    });
  }

  async down() {
    this.cut = true;
    await this.context.setOffline(true);
    for (const ws of this.routes) await ws.close({ code: 1001, reason: 'network down' }).catch(() => {});
    this.routes.clear();
  }

  async up() {
    this.cut = false;
    await this.context.setOffline(false);
  }
}

/**
 * What most widget test files start with: the server (with `server` options,
 * e.g. `{ args }`) routing chats to `agentAccount`, a host page embedding
 * the widget, a browser, and the agent signed in through the SDK.
 */
export async function startWidgetEnvironment(agentAccount, { server: serverOptions = {} } = {}) {
  const server = await startServer(serverOptions);
  const { entryPointId } = await server.setupRouting({ agents: [agentAccount] });
  const host = await startHostPage(server, entryPointId);
  const browser = await launchBrowser();
  const agent = await startAgent(browser, server, agentAccount);
  return { server, browser, host, entryPointId, agent };
}

/** Undoes `startWidgetEnvironment` (whatever of it was started). */
export async function stopWidgetEnvironment({ agent, browser, host, server }) {
  await agent?.close().catch(() => {});
  await browser?.close();
  await host?.close();
  await server?.stop();
}
