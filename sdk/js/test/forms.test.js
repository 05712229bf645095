// Forms: a flow shows one, the customer answers it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, SwitchboardError } from '../src/index.js';
import { startServer, websiteEntryPoint } from './server.js';
import { waitFor } from './helpers.js';

const FLOW = `name: ask-reason
steps:
  ask:
    type: show_form
    form:
      name: use_of_funds
      title: Use of funds
      fields:
        - name: reason
          label: What will the funds be used for?
          type: choice
          required: true
          choices: [Renovation work, Purchase]
        - name: amount
          label: Amount
          type: number
    into: answer
    next: thanks
  thanks:
    type: send_message
    text: "Thanks: {{ vars.answer.reason }}"
    next: end
`;

let server;
let entryPointId;
before(async () => {
  server = await startServer();
  entryPointId = await websiteEntryPoint(server);
  await server.admin('POST', '/flows', FLOW, { contentType: 'application/yaml' });
});
after(async () => {
  await server?.stop();
});

test('a form is shown, refused when wrong, and submitted', async (t) => {
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const shown = waitFor(chat, 'form');
  await server.admin('POST', '/flows/ask-reason/runs', { conversation_id: chat.conversationId });
  const form = await shown;
  assert.equal(form.to, 'customer');
  assert.equal(form.form.name, 'use_of_funds');
  assert.deepEqual(form.form.fields.map((f) => f.name), ['reason', 'amount']);

  await assert.rejects(chat.submitForm(form.form_id, { reason: 'Holiday' }), (err) => {
    assert.ok(err instanceof SwitchboardError);
    assert.equal(err.status, 422);
    assert.equal(err.field, 'values.reason');
    return true;
  });

  const submitted = waitFor(chat, 'event', (e) => e.type === 'form.submitted');
  const thanks = waitFor(chat, 'message', (m) => m.content === 'Thanks: Purchase');
  await chat.submitForm(form.form_id, { reason: 'Purchase', amount: 1200 });
  const ev = await submitted;
  assert.equal(ev.form_id, form.form_id);
  assert.equal(ev.values.amount, 1200);
  await thanks;
});
