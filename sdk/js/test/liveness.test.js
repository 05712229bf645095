// Liveness: a socket that stays open but delivers nothing (a half-open
// connection) is found out by the client's pings and replaced.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient } from '../src/index.js';
import { startServer, websiteEntryPoint } from './server.js';
import { waitFor, collect, recordingWebSocket } from './helpers.js';

let server;
let entryPointId;
before(async () => {
  server = await startServer({ args: ['--heartbeat-secs', '1'] });
  entryPointId = await websiteEntryPoint(server);
});
after(async () => {
  await server?.stop();
});

test('ping() answers on a live socket', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  assert.equal(await chat.ping(), true);
  chat.close();
  assert.equal(await chat.ping(), false, 'a closed client does not ping');
});

test('a socket that goes silent is pinged, dropped and reopened; nothing is lost', async (t) => {
  const ws = recordingWebSocket();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket, reconnect: { initialDelayMs: 20, maxDelayMs: 100 } });
  t.after(() => chat.close());
  const messages = collect(chat, 'message');
  const first = ws.sockets[0];
  // From now on the first socket hears nothing, as over a dead network path.
  ws.dropIncoming = (_frame, socket) => socket === first;
  const back = waitFor(chat, 'message', (m) => m.content === 'are you there?', 20_000);
  await server.admin('POST', `/conversations/${chat.conversationId}/messages`, { content: 'are you there?' });
  await back;
  assert.ok(first.sentFrames.some((f) => f.type === 'ping'), 'the silent socket was pinged');
  assert.ok(ws.sockets.length >= 2, 'and replaced');
  assert.deepEqual(messages.map((m) => m.content), ['are you there?']);
});
