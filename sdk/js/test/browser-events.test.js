// The browser's signals, with stand-ins for window, document and navigator:
// going offline shows as 'offline', coming back online reconnects at once
// (not after the backoff), a tab made visible again pings the server.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient } from '../src/index.js';
import { startServer, websiteEntryPoint } from './server.js';
import { waitFor, collect, recordingWebSocket } from './helpers.js';

const nav = { onLine: true };
let server;
let entryPointId;
before(async () => {
  globalThis.window = new EventTarget();
  globalThis.document = Object.assign(new EventTarget(), { visibilityState: 'visible' });
  Object.defineProperty(globalThis, 'navigator', { value: nav, configurable: true, writable: true });
  server = await startServer();
  entryPointId = await websiteEntryPoint(server);
});
after(async () => {
  await server?.stop();
});

test('offline, then online: the client reconnects at once and sends what waited', async (t) => {
  const ws = recordingWebSocket();
  // A backoff far longer than the test: only the 'online' signal can bring it back in time.
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket, reconnect: { initialDelayMs: 60_000, maxDelayMs: 60_000 }, connect: false });
  t.after(() => chat.close());
  await chat.connect();
  assert.equal(chat.watchBrowser, true);
  const states = collect(chat, 'state');

  nav.onLine = false;
  const offline = waitFor(chat, 'state', (s) => s === 'offline');
  ws.sockets[0].close();
  await offline;
  const waiting = chat.send('written offline');

  nav.onLine = true;
  const open = waitFor(chat, 'state', (s) => s === 'open', 5000);
  window.dispatchEvent(new Event('online'));
  await open;
  const ack = await waiting;
  assert.equal(typeof ack.seq, 'number');
  assert.deepEqual(states, ['offline', 'open']);
});

test('a tab made visible again pings the server', async (t) => {
  const ws = recordingWebSocket();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket });
  t.after(() => chat.close());
  const pinged = new Promise((resolve) => {
    ws.onSend = (frame) => frame.type === 'ping' && resolve(frame);
  });
  document.visibilityState = 'hidden';
  document.dispatchEvent(new Event('visibilitychange'));
  document.visibilityState = 'visible';
  document.dispatchEvent(new Event('visibilitychange'));
  await pinged;
  assert.equal(ws.sockets[0].sentFrames.filter((f) => f.type === 'ping').length, 1, 'one ping, on becoming visible');
});

test('close() removes the listeners it added', async () => {
  const live = new Set();
  for (const target of [window, document]) {
    const add = target.addEventListener.bind(target);
    const remove = target.removeEventListener.bind(target);
    target.addEventListener = (type, fn, o) => (live.add(`${type}:${fn}`), add(type, fn, o));
    target.removeEventListener = (type, fn, o) => (live.delete(`${type}:${fn}`), remove(type, fn, o));
  }
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  assert.deepEqual([...live].map((k) => k.split(':')[0]).sort(), ['offline', 'online', 'visibilitychange']);
  chat.close();
  assert.equal(live.size, 0);
});
