// Workspace setup shared by the tests (with the admin key).

import { randomBytes } from 'node:crypto';
import { startServer } from './server.js';

export { startServer };

export async function websiteEntryPoint(server) {
  const list = await server.admin('GET', '/entry-points');
  const eps = Array.isArray(list) ? list : list.entry_points;
  const ep = eps.find((e) => e.name === 'Website') ?? eps[0];
  return ep.id;
}

/** A queue every agent serves, and a workflow that routes every chat to it. */
export async function routeEverythingTo(server, name = 'general') {
  const queue = await server.admin('POST', '/queues', { name });
  await server.admin('PUT', '/workflow', `default:\n  queue: ${name}\n`, { contentType: 'application/yaml' });
  return queue;
}

export async function createAgent(server, { name = 'Ann', capacity = 3 } = {}) {
  const login = `${name.toLowerCase()}-${randomBytes(4).toString('hex')}`;
  const password = 'correct horse battery';
  const agent = await server.admin('POST', '/agents', { name, login, password, capacity });
  return { agent, login, password };
}
