// Reconnects: a socket cut mid-send, the server killed mid-send and
// restarted, sends made while offline, frames lost on the way (a hole) and
// silent monitors (a legitimate skip). Every send is stored once and every
// event delivered once, in order.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, AgentClient } from '../src/index.js';
import { createAgent, startRoutedServer } from './server.js';
import { waitFor, collect, assertOrdered, recordingWebSocket, countingFetch } from './helpers.js';

const fast = { initialDelayMs: 20, maxDelayMs: 300 };
let server;
let entryPointId;
before(async () => {
  ({ server, entryPointId } = await startRoutedServer());
});
after(() => server?.stop());

async function messagesInLog(chat) {
  const out = [];
  for await (const page of chat.pages()) out.push(...page.events.filter((e) => e.type === 'message'));
  return out;
}

function waitForMessages(chat, texts, timeoutMs = 10_000) {
  const wanted = new Set(texts);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`timed out waiting for messages ${[...wanted]}`));
    }, timeoutMs);
    const off = chat.on('message', (m) => {
      wanted.delete(m.content);
      if (wanted.size === 0) {
        clearTimeout(timer);
        off();
        resolve();
      }
    });
  });
}

test('the socket is cut right after a send goes out: stored once, delivered once, in order', async (t) => {
  const ws = recordingWebSocket();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket, reconnect: fast });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  const states = collect(chat, 'state');
  let cutToken = null;
  ws.onSend = (frame, socket) => {
    if (frame.type === 'send' && cutToken === null) {
      cutToken = frame.client_token;
      socket.close(); // the client did not ask for this: it must reconnect and retry
    }
  };
  const allSeen = waitForMessages(chat, ['a', 'b', 'c']);
  const acks = await Promise.all([chat.send('a'), chat.send('b'), chat.send('c')]);
  await allSeen;

  assert.ok(ws.sockets.length >= 2, 'a second socket was opened');
  assert.ok(states.includes('reconnecting'), `states: ${states}`);
  assert.equal(chat.state, 'open');
  // The cut send went out again with the same client token.
  const retried = ws.sockets.slice(1).flatMap((s) => s.sentFrames).filter((f) => f.client_token === cutToken);
  assert.equal(retried.length, 1, 'the cut send was retried once, with the same token');
  assert.ok(acks[0].seq < acks[1].seq && acks[1].seq < acks[2].seq, 'acks in send order');

  const stored = await messagesInLog(chat);
  assert.deepEqual(stored.map((m) => m.content), ['a', 'b', 'c'], 'each send stored exactly once, in order');
  assert.deepEqual(stored.map((m) => m.seq), acks.map((a) => a.seq));
  const delivered = events.filter((e) => e.type === 'message');
  assert.deepEqual(delivered.map((m) => m.seq), acks.map((a) => a.seq), 'each delivered once');
  assertOrdered(assert, events);
});

test('the server is killed mid-send and restarted; sends made while it is down go out in order', async (t) => {
  const ws = recordingWebSocket();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket, reconnect: fast });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  const address = server.address;
  // The server stores the send, and dies before its ack reaches the client.
  let dropAcks = true;
  ws.dropIncoming = (frame) => dropAcks && frame.type === 'ack';
  const committed = waitFor(chat, 'message', (m) => m.content === 'in flight');
  const inFlight = chat.send('in flight');
  await committed;
  const down = waitFor(chat, 'state', (s) => s === 'reconnecting');
  await server.kill();
  await down;
  dropAcks = false;

  // Offline queue: these are made while nothing is reachable.
  assert.equal(chat.state, 'reconnecting');
  const queued = [chat.send('queued 1'), chat.send('queued 2', { contentType: 'text/markdown' })];
  let settledEarly = false;
  Promise.race([inFlight, ...queued]).then(() => (settledEarly = true), () => (settledEarly = true));
  assert.equal(chat.pendingSends, 3, 'all three wait');

  const allSeen = waitForMessages(chat, ['queued 1', 'queued 2']);
  assert.equal(settledEarly, false, 'nothing was answered while the server was down');
  await server.start(address);
  const acks = await Promise.all([inFlight, ...queued]);
  await allSeen;
  assert.equal(chat.state, 'open');

  const stored = await messagesInLog(chat);
  assert.deepEqual(stored.map((m) => m.content), ['in flight', 'queued 1', 'queued 2']);
  assert.deepEqual(stored.map((m) => m.seq), acks.map((a) => a.seq));
  const delivered = events.filter((e) => e.type === 'message').map((m) => m.content);
  assert.deepEqual(delivered, ['in flight', 'queued 1', 'queued 2']);
  assertOrdered(assert, events);
});

test('an agent whose socket is down gets what it missed on reconnect, once and in order', async (t) => {
  const { login, password } = await createAgent(server, { name: 'Rita', capacity: 5 });
  const ws = recordingWebSocket();
  const agent = await AgentClient.login({ baseUrl: server.baseUrl, login, password, WebSocket: ws.WebSocket, reconnect: fast });
  t.after(() => agent.close());
  await agent.connect();
  const customer = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, reconnect: fast });
  t.after(() => customer.close());
  const offered = waitFor(agent, 'offer', (o) => o.conversation_id === customer.conversationId);
  await agent.setActivity('available');
  await agent.accept((await offered).id);
  const events = collect(agent, 'event');
  const hi = waitFor(agent, 'message', (m) => m.content === 'before the cut');
  await customer.send('before the cut');
  await hi;

  // Cut the agent's socket and keep it from reopening while the customer talks.
  ws.blocked = true;
  const down = waitFor(agent, 'state', (s) => s === 'reconnecting');
  ws.sockets.at(-1).close();
  await down;
  for (const text of ['missed 1', 'missed 2', 'missed 3']) await customer.send(text);
  // An agent send made while down waits for the socket.
  const reply = agent.send(customer.conversationId, 'back again');
  const seen = waitForMessages(agent, ['missed 1', 'missed 2', 'missed 3', 'back again']);
  ws.blocked = false;
  await seen;
  await reply;

  const lastSocket = ws.sockets.at(-1);
  assert.match(lastSocket.url, new RegExp(`after=${customer.conversationId}%3A\\d+`), 'resumed with after=cnv:SEQ');
  const mine = events.filter((e) => e.conversation_id === customer.conversationId);
  assertOrdered(assert, mine);
  assert.deepEqual(
    mine.filter((e) => e.type === 'message').map((e) => e.content),
    ['before the cut', 'missed 1', 'missed 2', 'missed 3', 'back again'],
  );
  assert.equal(agent.conversations.get(customer.conversationId).lastSeq, mine.at(-1).seq);
});

test('a frame lost on the way is filled from the transcript before what follows', async (t) => {
  const ws = recordingWebSocket();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  ws.dropIncoming = (frame) => frame.type === 'event' && frame.event.content === 'lost on the way';
  const after = waitFor(chat, 'message', (m) => m.content === 'after it');
  await chat.send('lost on the way');
  await chat.send('after it');
  await after;
  const texts = events.filter((e) => e.type === 'message').map((e) => e.content);
  assert.deepEqual(texts, ['lost on the way', 'after it']);
  assertOrdered(assert, events);
  for (let i = 1; i < events.length; i++) assert.equal(events[i].seq, events[i - 1].seq + 1, 'no gap');
});

test('a silent monitor makes seqs skip: the client checks, finds nothing, and goes on', async (t) => {
  const transcriptCalls = countingFetch(/\/transcript\?/);
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, fetch: transcriptCalls.fetch });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  const mark = waitFor(chat, 'message', (m) => m.content === 'before');
  await chat.send('before');
  await mark;
  const lastBefore = chat.lastSeq;
  const monitor = await server.admin('POST', `/conversations/${chat.conversationId}/participants`, { role: 'monitor', display_name: 'Sup' });
  assert.ok(monitor.token);
  const next = waitFor(chat, 'message', (m) => m.content === 'after the monitor');
  await server.admin('POST', `/conversations/${chat.conversationId}/messages`, { content: 'after the monitor' });
  const msg = await next;
  assert.ok(msg.seq > lastBefore + 1, `the seq skipped (${lastBefore} → ${msg.seq})`);
  assert.ok(transcriptCalls.count >= 1, 'the skip was checked against the transcript');
  assert.ok(!events.some((e) => e.member_id === monitor.participant?.id || e.role === 'monitor'), 'nothing about the monitor');
  assertOrdered(assert, events);
  assert.equal(chat.lastSeq, msg.seq);
});

test('what changed while an agent was away is told on reconnect: a chat taken away, an offer gone (declined over REST)', async (t) => {
  // A queue only this agent serves.
  await server.admin('POST', '/queues', { name: 'otto-only', expression: 'agent.name == "Otto"' });
  const workflow = 'filters:\n  - name: otto\n    if: chat.attributes.lane == "otto"\n    steps:\n      - queue: otto-only\ndefault:\n  queue: general\n';
  await server.admin('PUT', '/workflow', workflow, { contentType: 'application/yaml' });
  const { login, password } = await createAgent(server, { name: 'Otto', capacity: 5 });
  const ws = recordingWebSocket();
  const agent = await AgentClient.login({ baseUrl: server.baseUrl, login, password, WebSocket: ws.WebSocket, reconnect: fast });
  t.after(() => agent.close());
  await agent.connect();
  await agent.setActivity('available');

  // One chat the agent takes, one it is offered and leaves pending.
  const offered = waitFor(agent, 'offer', () => true);
  const taken = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, attributes: { lane: 'otto' }, connect: false });
  const first = await offered;
  assert.equal(first.conversation_id, taken.conversationId);
  await agent.accept(first.id);
  const second = waitFor(agent, 'offer', () => true);
  const pending = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, attributes: { lane: 'otto' }, connect: false });
  const offer = await second;
  assert.equal(offer.conversation_id, pending.conversationId);
  assert.ok(agent.offers.has(offer.id));

  ws.blocked = true;
  const down = waitFor(agent, 'state', (s) => s === 'reconnecting');
  ws.sockets.at(-1).close();
  await down;
  // Meanwhile the taken chat is transferred away.
  await server.admin('POST', `/conversations/${taken.conversationId}/transfer`, { queue: 'general' });
  const released = waitFor(agent, 'released', (r) => r.conversationId === taken.conversationId);
  const closed = waitFor(agent, 'offer_closed', (c) => c.offer.id === offer.id, 15_000);
  // The offer is declined from elsewhere (REST, as the socket is down).
  assert.equal(agent.socketOpen, false);
  const declined = await agent.decline(offer.id);
  assert.equal(declined.id, offer.id);
  ws.blocked = false;
  await released;
  const gone = await closed;
  assert.equal(gone.state, 'unknown', 'the socket was away when it closed');
  assert.ok(ws.sockets.length >= 2);
  assert.equal(agent.offers.has(offer.id), false);
  assert.equal(agent.conversations.has(taken.conversationId), false);
});

test('many sends through repeated cuts, with the other side talking: the log and the stream agree', async (t) => {
  const ws = recordingWebSocket();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket, reconnect: fast, connect: false });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  await chat.connect();
  // Cut every fourth send frame's socket right after it goes out.
  let sendFrames = 0;
  ws.onSend = (frame, socket) => {
    if (frame.type === 'send' && ++sendFrames % 4 === 0) socket.close();
  };
  const mine = Array.from({ length: 24 }, (_, i) => `mine ${i}`);
  const theirs = Array.from({ length: 8 }, (_, i) => `theirs ${i}`);
  const allSeen = waitForMessages(chat, [...mine, ...theirs], 30_000);
  const sending = Promise.all(mine.map((text) => chat.send(text)));
  for (const text of theirs) await server.admin('POST', `/conversations/${chat.conversationId}/messages`, { content: text });
  const acks = await sending;
  await allSeen;

  assert.ok(ws.sockets.length >= 6, `the socket was cut ${ws.sockets.length - 1} times`);
  const log = [];
  for await (const page of chat.pages({ limit: 500 })) log.push(...page.events);
  assert.deepEqual(events.map((e) => e.seq), log.map((e) => e.seq), 'the stream delivered exactly the log');
  const stored = log.filter((e) => e.type === 'message' && e.content.startsWith('mine')).map((e) => e.content);
  assert.deepEqual(stored, mine, 'each send once, in order');
  assert.deepEqual(acks.map((a) => a.seq), log.filter((e) => e.content?.startsWith('mine')).map((e) => e.seq));
});
