// Typed errors: refused sends, refused tokens, refused forms, rate limits.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, AgentClient, SwitchboardError } from '../src/index.js';
import { startServer, websiteEntryPoint, createAgent } from './server.js';
import { waitFor } from './helpers.js';

let server;
let entryPointId;
before(async () => {
  server = await startServer({ args: ['--sends-per-second', '2'] });
  entryPointId = await websiteEntryPoint(server);
});
after(async () => {
  await server?.stop();
});

function isError(code, extra = () => true) {
  return (err) => {
    assert.ok(err instanceof SwitchboardError, `a SwitchboardError, not ${err}`);
    assert.equal(err.code, code, err.message);
    assert.equal(typeof err.message, 'string');
    return extra(err);
  };
}

test('a message too large is refused over the socket; the next send still goes', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  // Over the message limit (16 KiB): an error frame.
  await assert.rejects(chat.send('x'.repeat(17 * 1024)), isError('payload_too_large', (e) => e.status === null));
  // Over the socket's frame limit: the server closes the socket (1009); the send is refused, not retried.
  await assert.rejects(chat.send('x'.repeat(200 * 1024)), isError('payload_too_large'));
  const ack = await chat.send('small');
  assert.equal(typeof ack.seq, 'number');
});

test('a send after the chat ended is refused with conversation_ended', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const ended = waitFor(chat, 'state', (s) => s === 'ended');
  await chat.end();
  await ended;
  await assert.rejects(chat.send('anyone?'), isError('conversation_ended', (e) => e.status === 409));
  await chat.end(); // ending twice is fine
});

test('an unknown token: connect rejects with unauthenticated and the client closes', async () => {
  const chat = new ChatClient({ baseUrl: server.baseUrl, token: 'sbp_not_a_real_token', conversationId: 'cnv_01JDZ3Q5W7Y3J8M2V6X4T9R0PA', reconnect: { initialDelayMs: 10 } });
  const errors = [];
  chat.on('error', (e) => errors.push(e));
  await assert.rejects(chat.connect(), isError('unauthenticated', (e) => e.status === 401));
  assert.equal(chat.state, 'closed');
  assert.equal(errors.length, 1);
  await assert.rejects(chat.send('hi'), isError('unauthenticated'));
});

test('a wrong password is refused with unauthenticated', async () => {
  await assert.rejects(AgentClient.login({ baseUrl: server.baseUrl, login: 'nobody', password: 'wrong-password' }), isError('unauthenticated', (e) => e.status === 401));
});

test('an unknown entry point is a not_found', async () => {
  await assert.rejects(ChatClient.start({ baseUrl: server.baseUrl, entryPointId: 'ept_01JDZ3Q5W7Y3J8M2V6X4T9R0PA' }), isError('not_found', (e) => e.status === 404));
});

test('rate_limited sends wait retry_after_secs and go through, in order', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  // 2 a second, bursts of 4: ten sends at once go over the limit.
  const limited = [];
  const sent = [];
  const texts = Array.from({ length: 10 }, (_, i) => `burst ${i}`);
  const realSend = chat.outbox.deliver;
  chat.outbox.deliver = async (item) => {
    try {
      const ack = await realSend(item);
      sent.push(item.content);
      return ack;
    } catch (err) {
      if (err.code === 'rate_limited') limited.push(err);
      throw err;
    }
  };
  const acks = await Promise.all(texts.map((x) => chat.send(x)));
  assert.ok(limited.length > 0, 'the server did limit');
  assert.ok(limited.every((e) => e.retryAfterSecs >= 1), 'with retry_after_secs');
  assert.deepEqual(sent, texts, 'each stored once, in order');
  for (let i = 1; i < acks.length; i++) assert.ok(acks[i].seq > acks[i - 1].seq);
});

test('resuming a chat that has ended delivers what was missed, then ends', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const snap = chat.snapshot();
  chat.close();
  await server.admin('POST', `/conversations/${snap.conversationId}/messages`, { content: 'goodbye' });
  await server.admin('POST', `/conversations/${snap.conversationId}/end`, {});

  const again = ChatClient.resume(snap);
  t.after(() => again.close());
  const types = [];
  again.on('event', (e) => types.push(e.type));
  const ended = waitFor(again, 'ended');
  await again.connect();
  await ended;
  assert.equal(again.state, 'ended');
  assert.deepEqual(types.slice(-2), ['message', 'conversation.ended']);
  // REST still works after the end.
  const page = await again.transcript({ order: 'desc', limit: 1 });
  assert.equal(page.events[0].type, 'conversation.ended');
});

test('an erased chat: its client ends, and its token opens nothing any more', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const ended = waitFor(chat, 'state', (s) => s === 'ended');
  await server.admin('DELETE', `/conversations/${chat.conversationId}?end=true`);
  await ended;
  const again = ChatClient.resume(chat.snapshot());
  await assert.rejects(again.connect(), isError('unauthenticated', (e) => e.status === 401));
  assert.equal(again.state, 'closed');
});

test("revoking an agent's tokens closes its client with unauthenticated", async (t) => {
  const { agent: record, login, password } = await createAgent(server, { name: 'Rex' });
  const agent = await AgentClient.login({ baseUrl: server.baseUrl, login, password, reconnect: { initialDelayMs: 10 } });
  t.after(() => agent.close());
  await agent.connect();
  const failed = waitFor(agent, 'error');
  await server.admin('DELETE', `/agents/${record.id}/tokens`);
  const err = await failed;
  assert.equal(err.code, 'unauthenticated');
  assert.equal(err.status, 401);
  assert.equal(agent.state, 'closed');
});
