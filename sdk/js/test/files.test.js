// Attachments: announce, PUT with progress, complete; answering a file request.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, SwitchboardError } from '../src/index.js';
import { startServer, websiteEntryPoint } from './server.js';
import { waitFor } from './helpers.js';

// A 1×1 PNG.
const PNG = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==', 'base64');

let server;
let entryPointId;
before(async () => {
  server = await startServer();
  entryPointId = await websiteEntryPoint(server);
});
after(async () => {
  await server?.stop();
});

test('a file is uploaded with progress and appears in the conversation', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const progress = [];
  const announced = waitFor(chat, 'attachment');
  const result = await chat.uploadFile(new Blob([PNG], { type: 'image/png' }), { name: 'dot.png', onProgress: (sent, total) => progress.push([sent, total]) });
  assert.equal(result.attachment.status, 'approved');
  assert.equal(result.attachment.name, 'dot.png');
  assert.deepEqual(progress.at(0), [0, PNG.length]);
  assert.deepEqual(progress.at(-1), [PNG.length, PNG.length]);
  const ev = await announced;
  assert.equal(ev.attachment_id, result.attachment.id);
  assert.equal(ev.seq, result.event.seq);

  const att = await chat.attachment(result.attachment.id);
  const bytes = Buffer.from(await (await fetch(att.download.url)).arrayBuffer());
  assert.ok(bytes.equals(PNG), 'the stored bytes are the uploaded ones');
});

test('a file whose bytes do not match its type is refused, typed', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  await assert.rejects(
    chat.uploadFile(new Blob(['not a png at all'], { type: 'image/png' }), { name: 'fake.png' }),
    (err) => err instanceof SwitchboardError && err.code === 'unsupported_media_type' && err.status === 415,
  );
});

test('a file request is answered with an upload', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const asked = waitFor(chat, 'file_requested');
  const created = await server.admin('POST', `/conversations/${chat.conversationId}/file-requests`, { record_id: 'CASE-1' });
  const request = await asked;
  assert.equal(request.request_id, created.request.id);
  const received = waitFor(chat, 'event', (e) => e.type === 'file.received');
  const result = await chat.uploadFile(new Blob(['id card scan'], { type: 'text/plain' }), { name: 'id.txt', requestId: request.request_id });
  const done = await received;
  assert.equal(done.request_id, request.request_id);
  assert.equal(done.attachment_id, result.attachment.id);
  assert.equal(done.record_id, 'CASE-1');
});
