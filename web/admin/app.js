// Entry point of the admin pages: sign in with a workspace key, then one
// section at a time, chosen by the address's #hash.

import { wireSignIn } from '../shared/key-session.js';
import { EntryPointsSection } from './entry-points.js';
import { AgentsSection } from './agents.js';
import { QueuesSection } from './queues.js';
import { WorkflowSection } from './workflow.js';
import { FlowsSection } from './flows.js';
import { CannedSection } from './canned.js';
import { KeysSection } from './access-keys.js';

const SECTIONS = {
  'entry-points': EntryPointsSection,
  agents: AgentsSection,
  queues: QueuesSection,
  workflow: WorkflowSection,
  flows: FlowsSection,
  canned: CannedSection,
  keys: KeysSection,
};
const FIRST = 'entry-points';

let api = null;
let instances = new Map();

function current() {
  const name = location.hash.slice(1);
  return SECTIONS[name] ? name : FIRST;
}

function show({ focus }) {
  if (!api) return;
  const name = current();
  for (const key of Object.keys(SECTIONS)) {
    document.getElementById(`section-${key}`).hidden = key !== name;
    const link = document.querySelector(`[data-section="${key}"]`);
    if (key === name) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  let section = instances.get(name);
  if (!section) {
    section = new SECTIONS[name](document.getElementById(`section-${name}`), api);
    instances.set(name, section);
  }
  section.show();
  if (focus) document.getElementById(`h-${name}`).focus();
}

window.addEventListener('hashchange', () => show({ focus: true }));

wireSignIn({
  start(session) {
    api = session.api;
    instances = new Map();
    for (const key of Object.keys(SECTIONS)) {
      // Sections are built again for a new session.
      const root = document.getElementById(`section-${key}`);
      root.replaceChildren(root.firstElementChild);
    }
    show({ focus: false });
  },
  stop() {
    api = null;
    instances = new Map();
  },
});
