// @switchboard/client: the JavaScript client of Switchboard's chat API.
// Types: ../index.d.ts. Served to browsers at /assets/sdk/index.js.

export { ChatClient } from './chat-client.js';
export { AgentClient } from './agent-client.js';
export { SwitchboardError } from './errors.js';

export const VERSION = '0.1.0';
