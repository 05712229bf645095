// A full chat: customer starts on the public entry point, waits in line
// (queue position), an agent logs in, takes the offer, they talk (typing,
// receipts), the transcript pages, the agent ends it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, AgentClient } from '../src/index.js';
import { createAgent, startRoutedServer } from './server.js';
import { waitFor, collect, assertOrdered, recordingWebSocket } from './helpers.js';

let server;
let entryPointId;
before(async () => {
  ({ server, entryPointId } = await startRoutedServer());
});
after(() => server?.stop());

test('customer and agent chat from start to end', async (t) => {
  const customer = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, displayName: 'Jane', attributes: { topic: 'billing' }, connect: false });
  t.after(() => customer.close());
  const customerEvents = collect(customer, 'event');
  const states = collect(customer, 'state');
  // Nobody is available: the chat waits, and the socket says where it stands.
  const position = waitFor(customer, 'queue_position', (q) => q.position === 1);
  await customer.connect();
  assert.equal(customer.state, 'open');
  assert.deepEqual((await position).position, 1);
  assert.deepEqual((await customer.queuePosition()).position, 1, 'REST agrees');

  const { login, password } = await createAgent(server, { name: 'Ann' });
  const agent = await AgentClient.login({ baseUrl: server.baseUrl, login, password });
  t.after(() => agent.close());
  assert.equal(agent.agent.name, 'Ann');
  const agentEvents = collect(agent, 'event');
  await agent.connect();
  const offered = waitFor(agent, 'offer', (o) => o.conversation_id === customer.conversationId);
  await agent.setActivity('available');
  const offer = await offered;
  const assigned = waitFor(agent, 'assigned', (a) => a.conversationId === customer.conversationId);
  const joinedSeen = waitFor(customer, 'event', (e) => e.type === 'participant.joined' && e.role === 'agent');
  const accepted = await agent.accept(offer.id);
  assert.equal(accepted.id, offer.id);
  await assigned;
  await joinedSeen;
  assert.equal(agent.offers.size, 0, 'the accepted offer is no longer pending');

  // Customer → agent, with typing first.
  const agentSawTyping = waitFor(agent, 'typing', (x) => x.conversationId === customer.conversationId);
  customer.typing();
  const plain = await agentSawTyping;
  assert.equal(plain.text, undefined);
  // A preview of the draft reaches the agent; a changed preview goes at once (no 2 s wait).
  const sneak = waitFor(agent, 'typing', (x) => x.text === 'Hi, my inv');
  customer.typing('Hi, my inv');
  assert.equal((await sneak).participantId, customer.participant.id);
  const customerSawTyping = waitFor(customer, 'typing', (x) => x.participantId !== customer.participant.id);
  agent.typing(customer.conversationId);
  await customerSawTyping;
  const agentGotHello = waitFor(agent, 'message', (m) => m.content === 'Hi, my invoice is wrong');
  const ack = await customer.send('Hi, my invoice is wrong');
  assert.equal(typeof ack.seq, 'number');
  assert.match(ack.id, /^evt_/);
  const msg = await agentGotHello;
  assert.equal(msg.seq, ack.seq, 'the agent sees the stored message');
  assert.equal(msg.conversation_id, customer.conversationId);

  // Agent → customer (markdown), then receipts both ways.
  const customerGotAnswer = waitFor(customer, 'message', (m) => m.content === 'Let me **check**.');
  const answerAck = await agent.send(customer.conversationId, 'Let me **check**.', { contentType: 'text/markdown' });
  const answer = await customerGotAnswer;
  assert.equal(answer.seq, answerAck.seq);
  assert.equal(answer.content_type, 'text/markdown');
  const readSeen = waitFor(agent, 'event', (e) => e.type === 'message.read');
  const readAck = await customer.markRead(answer.id);
  assert.equal((await readSeen).seq, readAck.seq);
  const delivered = await agent.markDelivered(customer.conversationId, msg.id);
  assert.equal(typeof delivered.seq, 'number');

  // Text put in the agent's composer from outside (setAgentInput).
  const input = waitFor(agent, 'agent_input');
  await server.admin('POST', `/conversations/${customer.conversationId}/agent-input`, { text: 'Refund approved.' });
  assert.deepEqual(await input, { conversationId: customer.conversationId, text: 'Refund approved.' });
  const presence = waitFor(agent, 'presence', (p) => p.activity === 'away');
  await agent.setActivity('away');
  assert.equal((await presence).available, false);

  // A few more, to page through.
  for (let i = 1; i <= 5; i++) await customer.send(`line ${i}`);

  // Transcript: one page, then every page forwards and backwards.
  const first = await customer.transcript({ order: 'asc', afterSeq: 0, limit: 4 });
  assert.equal(first.events.length, 4);
  assert.equal(first.hasMore, true);
  assert.deepEqual(first.events.map((e) => e.seq), customerEvents.slice(0, 4).map((e) => e.seq));
  const forwards = [];
  for await (const page of customer.pages({ order: 'asc', limit: 3 })) {
    assert.ok(page.events.length <= 3);
    forwards.push(...page.events);
  }
  const backwards = [];
  for await (const page of agent.pages(customer.conversationId, { order: 'desc', limit: 3 })) backwards.push(...page.events);
  assert.deepEqual(forwards.map((e) => e.seq), customerEvents.map((e) => e.seq), 'the transcript is what the stream delivered');
  assert.deepEqual(backwards.map((e) => e.seq), [...forwards].reverse().map((e) => e.seq));

  // The agent ends the chat: both sides get conversation.ended; the customer's client ends.
  const customerEnded = waitFor(customer, 'ended');
  const agentEnded = waitFor(agent, 'event', (e) => e.type === 'conversation.ended');
  await agent.end(customer.conversationId);
  await customerEnded;
  await agentEnded;
  assert.equal(customer.state, 'ended');
  assert.deepEqual(states, ['connecting', 'open', 'ended']);

  // Every event once, in order, on both sides; the customer saw the whole log.
  assertOrdered(assert, customerEvents);
  const agentSide = agentEvents.filter((e) => e.conversation_id === customer.conversationId);
  assertOrdered(assert, agentSide);
  const all = [];
  for await (const page of customer.pages()) all.push(...page.events);
  assert.deepEqual(customerEvents.map((e) => e.seq), all.map((e) => e.seq));
  assert.equal(customerEvents[0].type, 'conversation.created');
  const texts = customerEvents.filter((e) => e.type === 'message').map((e) => e.content);
  assert.deepEqual(texts, ['Hi, my invoice is wrong', 'Let me **check**.', 'line 1', 'line 2', 'line 3', 'line 4', 'line 5']);

  // snapshot() has what a page needs to resume.
  const snap = customer.snapshot();
  assert.deepEqual(snap, { baseUrl: server.baseUrl, token: customer.token, conversationId: customer.conversationId, lastSeq: customerEvents.at(-1).seq });
});

test('listeners added right after `await start()` get everything from the first event', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const events = collect(chat, 'event');
  const states = collect(chat, 'state');
  const position = waitFor(chat, 'queue_position');
  const hi = waitFor(chat, 'message', (m) => m.content === 'first words');
  await chat.send('first words');
  await hi;
  assert.equal(events[0].seq, 1);
  assert.equal(events[0].type, 'conversation.created');
  assertOrdered(assert, events);
  assert.deepEqual(states, ['connecting', 'open'], 'the states while starting, replayed in order');
  assert.ok((await position).position >= 1);
});

test('a resumed client continues after its last seq, without repeating', async (t) => {
  const first = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  const twoSeen = waitFor(first, 'message', (m) => m.content === 'two');
  await first.send('one');
  await first.send('two');
  await twoSeen;
  const snap = first.snapshot();
  first.close();
  assert.equal(first.state, 'closed');

  // Something happens while no client is connected.
  await server.admin('POST', `/conversations/${snap.conversationId}/messages`, { content: 'while away' });

  const again = ChatClient.resume({ ...snap });
  t.after(() => again.close());
  const resumed = collect(again, 'event');
  const got = waitFor(again, 'message', (m) => m.content === 'while away');
  await again.connect();
  await got;
  assert.ok(resumed.every((e) => e.seq > snap.lastSeq), 'nothing at or before the snapshot is delivered again');
  assert.equal(resumed[0].content, 'while away');
});

test('typing is throttled to one frame per 2 s unless the preview changes', async (t) => {
  const ws = recordingWebSocket();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, WebSocket: ws.WebSocket });
  t.after(() => chat.close());
  const typingFrames = () => ws.sockets[0].sentFrames.filter((f) => f.type === 'typing');
  chat.typing();
  chat.typing();
  chat.typing();
  assert.equal(typingFrames().length, 1, 'repeats within 2 s are not sent');
  chat.typing('Hel');
  chat.typing('Hel');
  chat.typing('Hello');
  assert.deepEqual(typingFrames().map((f) => f.text), [undefined, 'Hel', 'Hello'], 'a changed preview goes at once');
  chat.typing('x'.repeat(300));
  assert.equal(typingFrames().at(-1).text.length, 200, 'previews are cut to 200 characters');
});

test('a chat continued from an ended one carries its past (segments)', async (t) => {
  const before = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId, displayName: 'Jane' });
  t.after(() => before.close());
  await before.send('about my order');
  const ended = waitFor(before, 'ended');
  await before.end();
  await ended;

  const after = await ChatClient.start({
    baseUrl: server.baseUrl,
    entryPointId,
    continueFrom: { token: before.token, conversationId: before.conversationId },
  });
  t.after(() => after.close());
  assert.notEqual(after.conversationId, before.conversationId);
  await after.send('me again');
  const history = [];
  const segments = new Set();
  for await (const page of after.pages({ segments: 'all', limit: 3 })) {
    history.push(...page.events);
    for (const s of page.segments ?? []) segments.add(s);
  }
  assert.deepEqual([...segments], [before.conversationId, after.conversationId]);
  const texts = history.filter((e) => e.type === 'message').map((e) => [e.conversation_id, e.content]);
  assert.deepEqual(texts, [
    [before.conversationId, 'about my order'],
    [after.conversationId, 'me again'],
  ]);
});
