// The chat actions that ask something first, each in a modal <dialog>: launch
// an agent-side flow, request a file, transfer to a queue or an agent.

import { el } from '../shared/message-body.js';

export class ActionDialogs {
  /**
   * @param {{ flows: () => Promise<object[]>, launchFlow: (chat, name, params) => Promise<unknown>,
   *           requestFile: (chat, recordId) => Promise<unknown>,
   *           transferTargets: () => Promise<{queues: object[], agents: object[]}>,
   *           transfer: (chat, to) => Promise<unknown> }} io
   */
  constructor(io) {
    this.io = io;
    this.chat = null;
    this.flowsByName = new Map();
    for (const dialog of document.querySelectorAll('dialog')) {
      for (const b of dialog.querySelectorAll('[data-close]')) b.addEventListener('click', () => dialog.close());
    }
    this.flowDialog = document.getElementById('flow-dialog');
    this.flowSelect = document.getElementById('flow-select');
    this.flowParams = document.getElementById('flow-params');
    this.flowDescription = document.getElementById('flow-description');
    this.flowError = document.getElementById('flow-error');
    this.flowSelect.addEventListener('change', () => this.#renderParams());
    document.getElementById('flow-form').addEventListener('submit', (e) => this.#launch(e));

    this.fileDialog = document.getElementById('file-dialog');
    this.fileRecord = document.getElementById('file-record');
    this.fileError = document.getElementById('file-error');
    document.getElementById('file-form').addEventListener('submit', (e) => this.#requestFile(e));

    this.transferDialog = document.getElementById('transfer-dialog');
    this.transferTarget = document.getElementById('transfer-target');
    this.transferError = document.getElementById('transfer-error');
    document.getElementById('transfer-form').addEventListener('submit', (e) => this.#transfer(e));
  }

  async openFlow(chat) {
    this.chat = chat;
    this.flowError.textContent = '';
    this.flowSelect.replaceChildren(el('option', null, 'Loading…'));
    this.flowParams.replaceChildren(el('legend', null, 'Parameters'));
    this.flowDialog.showModal();
    try {
      const flows = (await this.io.flows()).filter((f) => f.side === 'agent');
      this.flowsByName = new Map(flows.map((f) => [f.name, f]));
      this.flowSelect.replaceChildren(...flows.map((f) => {
        const o = el('option', null, f.name);
        o.value = f.name;
        return o;
      }));
      if (!flows.length) {
        this.flowSelect.replaceChildren(el('option', null, 'No agent flows deployed'));
        this.flowError.textContent = 'There is no agent-side flow to launch.';
      }
      this.#renderParams();
    } catch (err) {
      this.flowSelect.replaceChildren();
      this.flowError.textContent = `Could not list flows: ${err.message}`;
    }
  }

  #renderParams() {
    const flow = this.flowsByName.get(this.flowSelect.value);
    this.flowDescription.textContent = flow?.description || '';
    const params = flow?.params || [];
    const inputs = params.map(({ name, required, default: fallback }) => {
      const wrap = el('div', 'field');
      const id = `flow-param-${name}`;
      const label = el('label', null, name);
      label.htmlFor = id;
      const input = el('input');
      input.id = id;
      input.name = name;
      input.dataset.param = name;
      input.setAttribute('data-testid', `flow-param-${name}`);
      input.required = Boolean(required);
      if (fallback !== undefined && fallback !== null) input.placeholder = String(fallback);
      if (name === 'record_id' && this.chat?.conversation?.record_id) input.value = this.chat.conversation.record_id;
      wrap.append(label, input);
      return wrap;
    });
    this.flowParams.hidden = !inputs.length;
    this.flowParams.replaceChildren(el('legend', null, 'Parameters'), ...inputs);
  }

  async #launch(e) {
    e.preventDefault();
    const name = this.flowSelect.value;
    if (!this.flowsByName.has(name)) return;
    const params = {};
    for (const input of this.flowParams.querySelectorAll('input[data-param]')) {
      if (input.value !== '') params[input.dataset.param] = input.value;
    }
    try {
      await this.io.launchFlow(this.chat, name, params);
      this.flowDialog.close();
    } catch (err) {
      this.flowError.textContent = err.field ? `${err.message} (${err.field})` : err.message;
    }
  }

  openFile(chat) {
    this.chat = chat;
    this.fileError.textContent = '';
    this.fileRecord.value = chat.conversation?.record_id || '';
    this.fileDialog.showModal();
  }

  async #requestFile(e) {
    e.preventDefault();
    try {
      await this.io.requestFile(this.chat, this.fileRecord.value.trim() || undefined);
      this.fileDialog.close();
    } catch (err) {
      this.fileError.textContent = err.message;
    }
  }

  async openTransfer(chat) {
    this.chat = chat;
    this.transferError.textContent = '';
    this.transferTarget.replaceChildren(el('option', null, 'Loading…'));
    this.transferDialog.showModal();
    const { queues, agents, problems } = await this.io.transferTargets();
    const groups = [];
    if (queues.length) groups.push(group('Queues', queues.map((q) => [`queue:${q.id}`, q.name])));
    if (agents.length) {
      groups.push(group('Agents', agents.map((a) => [`agent:${a.id}`, `${a.name}${a.available ? '' : ` (${a.activity})`}`])));
    }
    this.transferTarget.replaceChildren(...groups);
    if (!groups.length) this.transferError.textContent = `Nowhere to transfer to. ${problems.join(' ')}`.trim();
  }

  async #transfer(e) {
    e.preventDefault();
    const [kind, id] = this.transferTarget.value.split(':');
    if (!id) return;
    try {
      await this.io.transfer(this.chat, kind === 'queue' ? { queueId: id } : { agentId: id });
      this.transferDialog.close();
    } catch (err) {
      this.transferError.textContent = err.message;
    }
  }
}

function group(label, options) {
  const g = el('optgroup');
  g.label = label;
  g.append(...options.map(([value, text]) => {
    const o = el('option', null, text);
    o.value = value;
    return o;
  }));
  return g;
}
