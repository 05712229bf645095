// Forms: a flow shows one, the customer answers it.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ChatClient, AgentClient, SwitchboardError } from '../src/index.js';
import { startServer, websiteEntryPoint, routeEverythingTo, createAgent } from './server.js';
import { waitFor, collect } from './helpers.js';

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

const AGENT_FLOW = `name: wrap-note
description: The agent notes the outcome.
side: agent
steps:
  note:
    type: show_form
    form:
      name: outcome
      title: Outcome
      fields:
        - name: resolved
          label: Resolved?
          type: boolean
          required: true
    into: outcome
    next: end
`;

let server;
let entryPointId;
before(async () => {
  server = await startServer();
  entryPointId = await websiteEntryPoint(server);
  await server.admin('POST', '/flows', FLOW, { contentType: 'application/yaml' });
  await server.admin('POST', '/flows', AGENT_FLOW, { contentType: 'application/yaml' });
  await routeEverythingTo(server);
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

test('an agent-side flow: the agent launches it, follows its run, answers its form; the customer sees none of it', async (t) => {
  const { login, password } = await createAgent(server, { name: 'Flo' });
  const agent = await AgentClient.login({ baseUrl: server.baseUrl, login, password });
  t.after(() => agent.close());
  await agent.connect();
  const chat = await ChatClient.start({ baseUrl: server.baseUrl, entryPointId });
  t.after(() => chat.close());
  const customerEvents = collect(chat, 'event');
  const offered = waitFor(agent, 'offer', (o) => o.conversation_id === chat.conversationId);
  await agent.setActivity('available');
  await agent.accept((await offered).id);

  const runs = collect(agent, 'flow_run');
  const shown = waitFor(agent, 'form', (f) => f.conversation_id === chat.conversationId);
  const run = await agent.launchFlow('wrap-note', chat.conversationId);
  const form = await shown;
  assert.equal(form.to, 'agent');
  const done = waitFor(agent, 'flow_run', (r) => r.state === 'completed');
  await agent.submitForm(chat.conversationId, form.form_id, { resolved: true });
  const completed = await done;
  assert.equal(completed.conversationId, chat.conversationId);
  assert.equal(completed.flow, 'wrap-note');
  assert.equal(completed.runId, run.id);
  assert.deepEqual(completed.vars.outcome, { resolved: true });
  assert.ok(runs.length >= 1);

  // The customer's stream carried neither the agent's form nor its answer.
  const marker = waitFor(chat, 'message', (m) => m.content === 'after the flow');
  await agent.send(chat.conversationId, 'after the flow');
  await marker;
  assert.ok(!customerEvents.some((e) => e.type.startsWith('form')), customerEvents.map((e) => e.type).join(','));
});
