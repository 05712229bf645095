// The long-poll transport: chosen outright, or by 'auto' when WebSockets
// cannot open. Events come by polling, sends by REST with client tokens.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient } from '../src/index.js';
import { startRoutedServer } from './server.js';
import { waitFor, collect, assertOrdered, BlockedWebSocket, countingFetch } from './helpers.js';

let server;
let entryPointId;
before(async () => {
  ({ server, entryPointId } = await startRoutedServer());
});
after(() => server?.stop());

test("transport 'longpoll': events by polling, sends by REST, in order", async (t) => {
  const posts = countingFetch(/\/messages$/);
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, transport: 'longpoll', fetch: posts.fetch, pollWaitSecs: 5, connect: false });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  const position = waitFor(chat, 'queue_position');
  await chat.connect();
  assert.equal(chat.transport, 'longpoll');
  assert.equal(chat.state, 'open');
  // Waiting in line (nobody serves the queue): the position comes by REST.
  const q = await position;
  assert.ok(q.position >= 1, `position ${q.position}`);
  assert.deepEqual(q, await chat.queuePosition());

  // A message from the other side arrives by the poll.
  const incoming = waitFor(chat, 'message', (m) => m.content === 'from the team');
  await server.admin('POST', `/conversations/${chat.conversationId}/messages`, { content: 'from the team' });
  await incoming;

  const seen = waitFor(chat, 'message', (m) => m.content === 'second');
  const acks = [await chat.send('first'), await chat.send('second')];
  await seen;
  assert.equal(posts.count, 2, 'sends went by REST');
  assert.ok(acks[0].seq < acks[1].seq);
  const texts = events.filter((e) => e.type === 'message').map((e) => [e.content, e.seq]);
  assert.deepEqual(texts, [['from the team', texts[0][1]], ['first', acks[0].seq], ['second', acks[1].seq]]);
  assertOrdered(assert, events);
  assert.equal(events[0].type, 'conversation.created', 'from the very first event');

  // The chat ends: the poll delivers conversation.ended and stops.
  const ended = waitFor(chat, 'ended');
  await chat.end();
  await ended;
  assert.equal(chat.state, 'ended');
  // A send after the end is refused with a typed error, over REST.
  await assert.rejects(chat.send('too late'), (err) => err.name === 'SwitchboardError' && err.code === 'conversation_ended' && err.status === 409);
});

test("transport 'auto' falls back to long-poll when the socket never opens", async (t) => {
  const chat = await ChatClient.start({
    baseUrl: server.baseUrl,
    entryPointId,
    WebSocket: BlockedWebSocket,
    fallbackAfter: 2,
    reconnect: { initialDelayMs: 10, maxDelayMs: 50 },
    connect: false,
  });
  t.after(() => chat.close());
  const transports = collect(chat, 'transport');
  await chat.connect();
  assert.equal(chat.transport, 'longpoll');
  assert.deepEqual(transports, ['longpoll']);
  const echoed = waitFor(chat, 'message', (m) => m.content === 'still works');
  const ack = await chat.send('still works');
  assert.equal((await echoed).seq, ack.seq);
});

test('the same client token sent twice over REST is stored once', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, transport: 'longpoll' });
  t.after(() => chat.close());
  const [a, b] = await Promise.all([chat.send('once', { clientToken: 'fixed-token-1' }), chat.send('once', { clientToken: 'fixed-token-1' })]);
  assert.deepEqual(a, b);
  const messages = [];
  for await (const page of chat.pages()) messages.push(...page.events.filter((e) => e.type === 'message'));
  assert.equal(messages.length, 1);
});

test('long-poll rides out a server restart: sends made while it is down go out in order', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, transport: 'longpoll', reconnect: { initialDelayMs: 20, maxDelayMs: 200 }, connect: false });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  await chat.connect();
  const address = server.address;
  const down = waitFor(chat, 'state', (s) => s === 'reconnecting');
  await server.kill();
  await down;
  const queued = [chat.send('one'), chat.send('two'), chat.send('three')];
  assert.equal(chat.pendingSends, 3);
  const seen = waitFor(chat, 'message', (m) => m.content === 'three', 20_000);
  await server.start(address);
  const acks = await Promise.all(queued);
  await seen;
  assert.equal(chat.state, 'open');
  assert.deepEqual(events.filter((e) => e.type === 'message').map((e) => [e.content, e.seq]), [['one', acks[0].seq], ['two', acks[1].seq], ['three', acks[2].seq]]);
  assertOrdered(assert, events);
});
