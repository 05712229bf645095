// Co-work: the agent launches the use-of-funds flow from the console, the
// customer answers the form, the agent sees the run complete with the answer.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routedChat } from './harness.mjs';
import { useConsoleWorld, signIn, finish } from './console-support.mjs';

const world = useConsoleWorld({ setup: ({ server }) => server.deployUseOfFunds() });

test('the agent launches the use-of-funds flow and sees the customer’s answer', async () => {
  const { server, browser } = world;
  const session = await signIn(world);
  const { page } = session;
  const jane = await routedChat(browser, server, page, { displayName: 'Jane' });

  await page.getByTestId('action-flow').click();
  const dialog = page.getByTestId('flow-dialog');
  await dialog.waitFor();
  await dialog.getByTestId('flow-select').locator('option[value="use-of-funds-agent"]').waitFor({ state: 'attached' });
  // Customer-side flows are not offered to the agent.
  assert.equal(await dialog.getByTestId('flow-select').locator('option[value="use-of-funds-customer"]').count(), 0);
  await dialog.getByTestId('flow-select').selectOption('use-of-funds-agent');
  await dialog.getByTestId('flow-param-record_id').fill('500AA1');
  await dialog.getByTestId('flow-launch').click();
  await dialog.waitFor({ state: 'hidden' });

  // The run shows in the side panel while it waits.
  const run = page.getByTestId('side-panel').getByTestId('flow-run').filter({ hasText: 'use-of-funds-agent' });
  await run.waitFor();

  // The customer gets the form and answers it.
  const form = await jane.waitForEvent('form', { to: 'customer' });
  assert.equal(form.form.name, 'use_of_funds');
  await page.getByTestId('transcript').getByText('Form “Use of funds” sent to the customer.').waitFor();
  await jane.submitForm(form.form_id, { reason: 'Renovation work' });

  // The agent sees the run complete, with the result, and the flow's thanks.
  await page.locator('[data-testid="flow-run"][data-state="completed"]').waitFor();
  assert.match(await run.getByTestId('flow-vars').textContent(), /reason: Renovation work/);
  await page.getByTestId('transcript').getByTestId('message')
    .filter({ hasText: 'the use of funds concerns Renovation work' }).waitFor();
  await page.getByTestId('side-attributes').getByText('Renovation work').waitFor();
  await finish(session, jane);
});

test('a form an agent-side flow sends to the agent is answered in the console', async () => {
  const { server, browser } = world;
  await server.api('POST', '/flows', [
    'name: agent-checklist',
    'description: Asks the agent to classify the chat.',
    'side: agent',
    'steps:',
    '  ask:',
    '    type: show_form',
    '    form:',
    '      name: checklist',
    '      title: Wrap-up checklist',
    '      fields:',
    '        - name: outcome',
    '          label: Outcome',
    '          type: choice',
    '          required: true',
    '          choices: [Solved, Escalated]',
    '        - name: minutes',
    '          label: Minutes spent',
    '          type: number',
    '    into: checklist',
    '    next: store',
    '  store:',
    '    type: set_attributes',
    '    attributes:',
    '      outcome: "{{ vars.checklist.outcome }}"',
    '    next: end',
    '',
  ].join('\n'), { contentType: 'application/yaml' });

  const session = await signIn(world);
  const { page } = session;
  const joe = await routedChat(browser, server, page, { displayName: 'Joe' });
  await page.getByTestId('action-flow').click();
  await page.getByTestId('flow-select').locator('option[value="agent-checklist"]').waitFor({ state: 'attached' });
  await page.getByTestId('flow-select').selectOption('agent-checklist');
  await page.getByTestId('flow-launch').click();

  const form = page.getByTestId('transcript').getByTestId('agent-form');
  await form.waitFor();
  await form.getByLabel('Outcome').selectOption('Solved');
  await form.getByLabel('Minutes spent').fill('7');
  await form.getByRole('button', { name: 'Submit' }).click();
  await form.getByText('Form “Wrap-up checklist” submitted.').waitFor();
  await page.getByTestId('side-attributes').getByText('Solved').waitFor();
  await page.locator('[data-testid="flow-run"][data-state="completed"]').filter({ hasText: 'agent-checklist' }).waitFor();
  // The customer never sees the agent's form nor its answer.
  const seen = await joe.events();
  assert.equal(seen.some((e) => e.type === 'form' || e.type === 'form.submitted'), false);
  await finish(session, joe);
});
