// Shared setup of the console's browser tests: one server and one browser per
// test file, the usual agent, and the common end of a test.

import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launchBrowser, openConsole, setPresence } from './harness.mjs';

export const ANN = { name: 'Ann', login: 'ann', password: 'ann-password-1' };

/**
 * Starts a server (with `args`) and a browser before the file's tests, sets
 * routing up with `agents`, runs `setup`, and stops both after. The returned
 * object fills in then: `{ server, browser, routing }`.
 */
export function useConsoleWorld({ agents = [ANN], args = [], setup } = {}) {
  const world = {};
  before(async () => {
    world.server = await startServer({ args });
    world.browser = await launchBrowser();
    world.routing = await world.server.setupRouting({ agents });
    await setup?.(world);
  });
  after(async () => {
    await world.browser?.close();
    await world.server?.stop();
  });
  return world;
}

/** Signs `agent` (default Ann) in to the console and, unless told otherwise, makes it available. */
export async function signIn(world, { agent = ANN, available = true, ...options } = {}) {
  const session = await openConsole(world.browser, world.server, { login: agent.login, password: agent.password, ...options });
  if (available) await setPresence(session.page, 'available');
  return session;
}

/** The end of a test: the agent goes offline and the customers leave (so
 * nothing is carried into the next test), the page reported no error, and
 * everything is closed. */
export async function finish(session, ...customers) {
  await setPresence(session.page, 'offline');
  assert.deepEqual(session.problems, []);
  await Promise.all(customers.map((c) => (c.leave ? c.leave() : c.close())));
  await session.context.close();
}
