// The console's chat model without a browser: unread counts, read receipts
// both ways, repeats ignored, typing cleared by the message.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChatState } from '../console/chat-state.js';
import { previewText } from '../shared/message-body.js';

const at = '2026-12-04T10:00:00Z';
let seq = 0;
const ev = (type, fields) => ({ seq: ++seq, id: `evt_${seq}`, at, type, ...fields });

function chatWithPeople() {
  seq = 0;
  const chat = new ChatState('cnv_1');
  chat.ingest(ev('participant.joined', { participant_id: 'prt_c', member_id: 'prt_c', role: 'customer', display_name: 'Jane' }));
  chat.ingest(ev('participant.joined', { participant_id: 'prt_a', member_id: 'prt_a', role: 'agent', display_name: 'Ann' }));
  chat.setParticipants([{ id: 'prt_a', role: 'agent', agent_id: 'agt_1' }, { id: 'prt_c', role: 'customer' }], 'agt_1');
  return chat;
}

test('unread counts customer messages after the last one the agent read', () => {
  const chat = chatWithPeople();
  const m1 = ev('message', { participant_id: 'prt_c', content: 'one' });
  const m2 = ev('message', { participant_id: 'prt_c', content: 'two' });
  chat.ingest(m1);
  chat.ingest(m2);
  chat.ingest(ev('message', { participant_id: 'prt_a', content: 'mine' }));
  assert.equal(chat.unreadCount(), 2);
  assert.equal(chat.messageToMarkRead().id, m2.id);
  chat.ingest(ev('message.read', { participant_id: 'prt_a', message_id: m1.id }));
  assert.equal(chat.unreadCount(), 1);
  chat.ingest(ev('message.read', { participant_id: 'prt_a', message_id: m2.id }));
  assert.equal(chat.unreadCount(), 0);
  assert.equal(chat.messageToMarkRead(), null);
  assert.equal(chat.title(), 'Jane');
});

test('a repeated event is ignored', () => {
  const chat = chatWithPeople();
  const m = ev('message', { participant_id: 'prt_c', content: 'hi' });
  assert.equal(chat.ingest(m), true);
  assert.equal(chat.ingest({ ...m }), false);
  assert.equal(chat.unreadCount(), 1);
});

test('the customer’s receipts mark the agent’s messages delivered, then read', () => {
  const chat = chatWithPeople();
  const a1 = ev('message', { participant_id: 'prt_a', content: 'a1' });
  const a2 = ev('message', { participant_id: 'prt_a', content: 'a2' });
  chat.ingest(a1);
  chat.ingest(a2);
  assert.equal(chat.deliveryOf(a1), 'sent');
  chat.ingest(ev('message.delivered', { participant_id: 'prt_c', message_id: a2.id }));
  assert.equal(chat.deliveryOf(a1), 'delivered');
  chat.ingest(ev('message.read', { participant_id: 'prt_c', message_id: a1.id }));
  assert.equal(chat.deliveryOf(a1), 'read');
  assert.equal(chat.deliveryOf(a2), 'delivered');
});

test('a receipt seen before its message counts once the message is known', () => {
  seq = 10;
  const chat = new ChatState('cnv_2');
  chat.ingest({ seq: 12, id: 'evt_12', at, type: 'message.read', participant_id: 'prt_c', message_id: 'evt_11' });
  chat.ingest({ seq: 11, id: 'evt_11', at, type: 'message', participant_id: 'prt_a', content: 'x' });
  chat.setParticipants([{ id: 'prt_a', role: 'agent', agent_id: 'agt_1' }, { id: 'prt_c', role: 'customer' }], 'agt_1');
  assert.equal(chat.deliveryOf(chat.events.get(11)), 'read');
});

test('typing ends with the typist’s message, and the end of the chat shows', () => {
  const chat = chatWithPeople();
  chat.typing = { participantId: 'prt_c', text: 'hel', until: Date.now() + 5000 };
  assert.ok(chat.typingNow());
  chat.ingest(ev('message', { participant_id: 'prt_c', content: 'hello' }));
  assert.equal(chat.typingNow(), null);
  chat.ingest(ev('conversation.ended', { participant_id: 'prt_a', reason: 'ended' }));
  assert.equal(chat.status, 'ended');
});


test('previews drop markdown marks and keep plain text as written', () => {
  const md = { content_type: 'text/markdown', content: 'It was **twice**.\n\n- see [our site](https://example.com) and `INV_1`' };
  assert.equal(previewText(md), 'It was twice. see our site and INV_1');
  assert.equal(previewText({ content_type: 'text/plain', content: 'a *b*\nc' }), 'a *b* c');
  assert.equal(previewText({ content_type: 'application/json', content: '{"a":1}' }), '{"a":1}');
});
