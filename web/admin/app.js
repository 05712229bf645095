// Entry point of the admin pages: sign in with a workspace key, then one
// section at a time, chosen by the address's #hash.

import { wireSignIn } from '../shared/key-session.js';
import { h } from '../shared/dom.js';
import { EntryPointsSection } from './entry-points.js';
import { AgentsSection } from './agents.js';
import { QueuesSection } from './queues.js';
import { WorkflowSection } from './workflow.js';
import { FlowsSection } from './flows.js';
import { CannedSection } from './canned.js';
import { KeysSection } from './access-keys.js';
import { SchedulesSection } from './schedules.js';
import { ActivitiesSection } from './activities.js';

const SECTIONS = [
  ['entry-points', 'Entry points & widget', EntryPointsSection],
  ['agents', 'Agents', AgentsSection],
  ['queues', 'Queues', QueuesSection],
  ['workflow', 'Workflow', WorkflowSection],
  ['schedules', 'Schedules (hours)', SchedulesSection],
  ['activities', 'Activities (presence)', ActivitiesSection],
  ['flows', 'Flows', FlowsSection],
  ['canned', 'Canned responses', CannedSection],
  ['keys', 'API keys', KeysSection],
];

const main = document.getElementById('admin-main');
const links = new Map(SECTIONS.map(([key, title]) => [key, h('a', { href: `#${key}`, 'data-section': key }, title)]));
document.getElementById('section-links').append(...[...links.values()].map((a) => h('li', {}, a)));

let api = null;
let built = new Map(); // key → {root, section}

function current() {
  const key = location.hash.slice(1);
  return links.has(key) ? key : SECTIONS[0][0];
}

/** The section's element and its controller, made the first time it is shown. */
function build(key) {
  let entry = built.get(key);
  if (!entry) {
    const [, title, Section] = SECTIONS.find(([k]) => k === key);
    const root = h('section', { id: `section-${key}`, class: 'admin-section', 'aria-labelledby': `h-${key}`, 'data-testid': `section-${key}` },
      h('h2', { id: `h-${key}`, tabindex: '-1' }, title));
    main.append(root);
    entry = { root, section: new Section(root, api) };
    built.set(key, entry);
  }
  return entry;
}

function show({ focus }) {
  if (!api) return;
  const key = current();
  for (const [k, link] of links) {
    if (k === key) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  const entry = build(key);
  for (const [k, other] of built) other.root.hidden = k !== key;
  entry.section.show();
  if (focus) document.getElementById(`h-${key}`).focus();
}

window.addEventListener('hashchange', () => show({ focus: true }));

wireSignIn({
  title: 'Admin',
  start(session) {
    api = session.api;
    built = new Map();
    main.replaceChildren();
    show({ focus: false });
  },
  stop() {
    api = null;
    built = new Map();
    main.replaceChildren();
  },
});
