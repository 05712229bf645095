// Entry points: where chats come in. Each has its name, allowed origins, idle
// timers, hours, and its widget (title, accent colour, logo, greeting,
// pre-chat form), with a live preview link and the embed snippet to copy.

import { h, clear } from '../shared/dom.js';
import { field, clearErrors, showError, intOrNull, copyText, fillRows, rowButton, formErrorLine } from './form-kit.js';
import { ListSection } from './list-section.js';
import { PrechatEditor } from './prechat-editor.js';

const DEFAULT_ACCENT = '#1f5fbf';

/** The one script tag a site adds. */
export function embedSnippet(entryPointId, origin = location.origin) {
  return `<script src="${origin}/widget.js" data-entry-point="${entryPointId}" async></script>`;
}

export class EntryPointsSection extends ListSection {
  constructor(root, api) {
    super(root, api, {
      item: 'entry-point', items: 'entry-points', label: 'Entry points', newLabel: 'New entry point',
      heads: ['Name', 'Id', 'Allowed origins', 'Status'], editorLast: true,
    });
  }

  async show() {
    const lists = await this.load('entry points', () => Promise.all([this.api.get('/entry-points'), this.api.get('/schedules')]));
    if (!lists) return;
    [this.entryPoints, this.schedules] = lists;
    fillRows(this.tbody, this.entryPoints.map((ep) => h('tr', { 'data-testid': 'entry-point-row', 'data-entry-point-id': ep.id },
      h('th', { scope: 'row' }, ep.name),
      h('td', {}, h('code', {}, ep.id)),
      h('td', {}, ep.allowed_origins.join(', ') || '—'),
      h('td', {}, h('span', { class: `badge ${ep.enabled ? 'ok' : 'danger'}` }, ep.enabled ? 'Enabled' : 'Disabled')),
      h('td', {}, rowButton('Edit', ep.name, { testid: 'entry-point-edit', onClick: () => this.edit(ep) })))), 5, 'No entry points yet.');
  }

  edit(ep) {
    const creating = !ep;
    const widget = ep?.widget || {};
    const f = {
      name: field({ label: 'Name', field: 'name', value: ep?.name, required: true }),
      origins: field({ label: 'Allowed origins (one per line)', field: 'allowed_origins', type: 'textarea', rows: 3, value: (ep?.allowed_origins || []).join('\n'), hint: 'Sites that may embed the widget, like https://shop.example.com, or * for any.', attrs: { spellcheck: 'false' } }),
      idle: field({ label: 'Customer idle after (seconds)', field: 'idle', type: 'number', value: ep?.idle?.idle_after_secs, hint: 'Empty: never.', attrs: { min: 1 } }),
      disconnect: field({ label: 'Disconnect after (seconds)', field: 'idle.disconnect_after_secs', type: 'number', value: ep?.idle?.disconnect_after_secs, hint: 'More than the idle time. Empty: never.', attrs: { min: 1 } }),
      enabled: field({ label: 'Enabled (takes new chats)', field: 'enabled', type: 'checkbox', value: ep ? ep.enabled : true }),
      schedule: field({ label: 'Hours (schedule)', field: 'schedule', type: 'select', options: [['', 'Always open'], ...(this.schedules || []).map((s) => s.name)], value: ep?.schedule || '' }),
      title: field({ label: 'Title', field: 'widget.title', value: widget.title }),
      accent: field({ label: 'Accent colour', field: 'widget.accent_color', type: 'color', value: widget.accent_color || DEFAULT_ACCENT }),
      logo: field({ label: 'Logo URL', field: 'widget.logo_url', value: widget.logo_url, hint: 'https://… or a path on this server.' }),
      greeting: field({ label: 'Greeting', field: 'widget.greeting', type: 'textarea', rows: 2, value: widget.greeting }),
    };
    let accentChosen = Boolean(widget.accent_color);
    f.accent.input.addEventListener('input', () => { accentChosen = true; });
    const prechat = new PrechatEditor(widget.prechat || []);
    const formError = formErrorLine();
    const form = h('form', { novalidate: true, 'data-testid': 'entry-point-form' },
      h('h3', {}, creating ? 'New entry point' : `Edit ${ep.name}`),
      h('div', { class: 'two-cols' }, f.name.wrap, f.schedule.wrap),
      f.origins.wrap,
      h('div', { class: 'two-cols' }, f.idle.wrap, f.disconnect.wrap),
      f.enabled.wrap,
      h('fieldset', {}, h('legend', {}, 'Widget'),
        h('div', { class: 'two-cols' }, f.title.wrap, f.accent.wrap, f.logo.wrap), f.greeting.wrap),
      prechat.element,
      formError,
      h('div', { class: 'form-buttons' },
        h('button', { type: 'submit', class: 'primary', 'data-testid': 'entry-point-save' }, creating ? 'Create entry point' : 'Save'),
        h('button', { type: 'button', on: { click: () => this.closeEditor() } }, 'Close')));
    const embed = h('div', { 'data-testid': 'entry-point-embed' });
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clearErrors(form);
      const widgetBody = {};
      for (const [key, input] of [['title', f.title.input], ['logo_url', f.logo.input], ['greeting', f.greeting.input]]) {
        if (input.value.trim()) widgetBody[key] = input.value.trim();
      }
      if (accentChosen) widgetBody.accent_color = f.accent.input.value;
      widgetBody.prechat = prechat.value();
      const body = {
        name: f.name.input.value.trim(),
        allowed_origins: f.origins.input.value.split('\n').map((s) => s.trim()).filter(Boolean),
        idle: { idle_after_secs: intOrNull(f.idle.input), disconnect_after_secs: intOrNull(f.disconnect.input) },
        enabled: f.enabled.input.checked,
        schedule: f.schedule.input.value || null,
        widget: widgetBody,
      };
      try {
        const saved = creating ? await this.api.post('/entry-points', body) : await this.api.patch(`/entry-points/${ep.id}`, body);
        await this.show();
        if (creating) this.edit(saved);
        else this.#fillEmbed(embed, saved);
        this.status.textContent = creating ? `Entry point ${saved.name} created.` : `Entry point ${saved.name} saved.`;
      } catch (err) {
        showError(form, err);
      }
    });
    if (ep) this.#fillEmbed(embed, ep);
    this.openEditor(f.name.input, form, embed);
  }

  #fillEmbed(container, ep) {
    const snippet = embedSnippet(ep.id);
    const copyStatus = h('span', { class: 'small', role: 'status' });
    clear(container).append(h('fieldset', {}, h('legend', {}, 'On your site'),
      h('p', {}, h('a', { href: `/demo/?entry_point=${encodeURIComponent(ep.id)}`, target: '_blank', rel: 'noopener noreferrer', 'data-testid': 'entry-point-preview' },
        'Preview the widget on a demo page'), h('span', { class: 'visually-hidden' }, ' (opens in a new tab)')),
      h('p', { class: 'small muted', id: `snippet-${ep.id}` }, 'Add this tag to your pages (before </body>):'),
      h('pre', { class: 'snippet' }, h('code', { 'data-testid': 'entry-point-snippet' }, snippet)),
      h('div', { class: 'form-buttons' },
        h('button', { type: 'button', 'data-testid': 'entry-point-copy', on: { click: () => copyText(snippet, copyStatus) } }, 'Copy the snippet'),
        copyStatus)));
  }
}
