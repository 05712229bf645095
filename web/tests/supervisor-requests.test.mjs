// "Message us" requests on the supervisor view: a chat nobody could take
// overflows to a message step; its contact details show on the board, and
// the supervisor gives it to an agent, who joins the chat.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startCustomer } from './harness.mjs';
import { serverAndBrowser, openWorkspacePage, axeProblems } from './supervisor-support.mjs';

let server;
let browser;
serverAndBrowser((world) => ({ server, browser } = world), async (s) => {
  await s.setupRouting({ agents: [{ name: 'Ann', login: 'ann', password: 'ann-password-1' }] });
  // Nobody available: straight to the message step.
  await s.api('PUT', '/workflow', {
    filters: [{
      name: 'support',
      steps: [
        { queue: 'general', skip_if_nobody_available: true },
        { queue: 'general', message: 'We are away right now. Leave us a message.' },
      ],
    }],
  });
});

test('a request shows with its contact details and is given to an agent, who joins the chat', async () => {
  const sup = await openWorkspacePage(browser, server, 'supervisor');
  const { page } = sup;
  await page.getByTestId('agent-row').first().waitFor();
  const jane = await startCustomer(browser, server, { displayName: 'Jane' });
  await jane.send('Is anyone there?');
  const form = await jane.waitForEvent('form');
  await jane.submitForm(form.form_id, { name: 'Jane Roe', email: 'jane@example.com' });

  const row = page.locator(`[data-testid="request-row"][data-conversation-id="${jane.conversationId}"]`);
  await row.getByTestId('request-contact').filter({ hasText: 'jane@example.com' }).waitFor();
  assert.match(await row.textContent(), /Jane Roe.*general.*Still in the chat/);
  assert.deepEqual(await axeProblems(page), []);

  const [ann] = await server.api('GET', '/agents');
  await row.getByTestId('request-agent').selectOption(ann.id);
  await row.getByTestId('request-assign').click();
  await page.getByTestId('requests-status').filter({ hasText: 'Given to Ann, who joined the chat.' }).waitFor();
  await jane.waitForEvent('participant.joined', { role: 'agent', display_name: 'Ann' });
  await row.waitFor({ state: 'detached' });
  assert.deepEqual(sup.unexpected(), []);
  await jane.close();
  await sup.context.close();
});
