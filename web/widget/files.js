// Files in the chat: uploads (button and drag-and-drop) with a progress bar,
// the agent's file requests shown as upload prompts, and attachments in the
// log (image thumbnails, download links fetched fresh because they expire).

import { h } from '/assets/shared/dom.js';
import { formatBytes, formatTime } from '/assets/shared/message-body.js';

export class Files {
  /**
   * @param {object} parts
   * @param {HTMLElement} parts.view the chat view (drop target)
   * @param {HTMLElement} parts.uploads where upload rows go
   * @param {HTMLInputElement} parts.input the hidden file input
   * @param {HTMLButtonElement} parts.attach the attach button
   * @param {HTMLElement} parts.dropZone the overlay shown while dragging
   * @param {import('./messages.js').MessageLog} parts.log
   */
  constructor({ view, uploads, input, attach, dropZone, log }) {
    this.uploads = uploads;
    this.input = input;
    this.log = log;
    this.chat = null;
    this.enabled = false;
    this.openRequests = new Map(); // request id → prompt element
    this.attachments = new Map(); // attachment id → its `attachment` event
    this.requestForNextPick = null;

    attach.addEventListener('click', () => this.pick(null));
    input.addEventListener('change', () => {
      const file = input.files?.[0];
      const requestId = this.requestForNextPick;
      this.requestForNextPick = null;
      input.value = '';
      if (file) this.upload(file, requestId);
    });

    let depth = 0;
    const hasFiles = (event) => [...(event.dataTransfer?.types ?? [])].includes('Files');
    view.addEventListener('dragenter', (event) => {
      if (!this.enabled || !hasFiles(event)) return;
      event.preventDefault();
      depth += 1;
      dropZone.hidden = false;
    });
    view.addEventListener('dragover', (event) => {
      if (!this.enabled || !hasFiles(event)) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
    });
    view.addEventListener('dragleave', () => {
      depth = Math.max(0, depth - 1);
      if (depth === 0) dropZone.hidden = true;
    });
    view.addEventListener('drop', (event) => {
      if (!hasFiles(event)) return;
      event.preventDefault();
      depth = 0;
      dropZone.hidden = true;
      if (!this.enabled) return;
      for (const file of event.dataTransfer.files) this.upload(file, null);
    });
  }

  /** Binds to a chat (or `null` when there is none). */
  setChat(chat) {
    this.chat = chat;
    this.openRequests.clear();
    this.attachments.clear();
    this.uploads.replaceChildren();
  }

  setEnabled(enabled) {
    this.enabled = enabled;
    for (const prompt of this.openRequests.values()) {
      for (const button of prompt.querySelectorAll('button')) button.disabled = !enabled;
    }
  }

  /** Opens the file picker; the file picked answers `requestId` (or the oldest open request). */
  pick(requestId) {
    this.requestForNextPick = requestId;
    this.input.click();
  }

  /** Uploads one file with a progress row; answers an open file request if there is one. */
  async upload(file, requestId) {
    const chat = this.chat;
    if (!chat) return;
    const answering = requestId ?? this.openRequests.keys().next().value ?? null;
    const progress = h('progress', { max: Math.max(file.size, 1), value: 0, 'aria-label': `Uploading ${file.name}` });
    const percent = h('span', { class: 'percent', 'aria-hidden': 'true' }, '0%');
    const controller = new AbortController();
    const cancel = h('button', { type: 'button', class: 'link', on: { click: () => controller.abort() } }, 'Cancel');
    const row = h(
      'div',
      { class: 'upload', 'data-testid': 'upload' },
      h('span', { class: 'upload-name' }, file.name),
      progress,
      percent,
      cancel,
    );
    this.uploads.append(row);
    try {
      await chat.uploadFile(file, {
        requestId: answering ?? undefined,
        signal: controller.signal,
        onProgress: (sent, total) => {
          progress.max = Math.max(total, 1);
          progress.value = sent;
          percent.textContent = `${Math.round((sent / Math.max(total, 1)) * 100)}%`;
        },
      });
      row.remove();
    } catch (err) {
      cancel.remove();
      progress.remove();
      percent.remove();
      row.classList.add('failed');
      const aborted = controller.signal.aborted;
      row.append(
        h('span', { class: 'error', role: 'alert', 'data-testid': 'upload-error' }, aborted ? 'Upload cancelled.' : uploadErrorMessage(err)),
        h('button', { type: 'button', class: 'link', 'aria-label': `Dismiss ${file.name}`, on: { click: () => row.remove() } }, 'Dismiss'),
      );
    }
  }

  /** An `attachment` event: a file card in the log. */
  attachment(event, mine) {
    const link = h('a', { class: 'file-link', 'data-testid': 'attachment-link', href: '#' }, event.name);
    const card = h(
      'div',
      { class: `msg ${mine ? 'mine' : 'theirs'} attachment`, 'data-testid': 'attachment', 'data-attachment-id': event.attachment_id },
      h(
        'div',
        { class: 'bubble file' },
        h('div', { class: 'thumb-slot' }),
        h('div', { class: 'file-row' }, link, h('span', { class: 'size' }, formatBytes(event.size))),
        h('div', { class: 'file-status', 'data-testid': 'attachment-status' }, statusText(event.status)),
      ),
      h('div', { class: 'meta' }, h('time', { class: 'time', datetime: event.at }, formatTime(event.at))),
    );
    card.dataset.status = event.status;
    this.attachments.set(event.attachment_id, event);
    link.addEventListener('click', (e) => this.#download(e, event));
    this.log.insert(event, card);
    if (event.status === 'approved' || (mine && event.status === 'scanning')) this.#fillLinks(card, event);
    return card;
  }

  /** `attachment.scanned`: the scan hook's verdict. */
  scanned(event) {
    const card = this.log.root.querySelector(`[data-attachment-id="${CSS.escape(event.attachment_id)}"]`);
    if (!card) return;
    card.dataset.status = event.status;
    card.querySelector('.file-status').textContent = statusText(event.status, event.reason);
    if (event.status === 'rejected') {
      card.querySelector('.thumb-slot').replaceChildren();
      card.querySelector('.file-link').removeAttribute('href');
    } else if (event.status === 'approved' && this.attachments.has(event.attachment_id)) {
      this.#fillLinks(card, this.attachments.get(event.attachment_id));
    }
  }

  /** `file.requested`: an upload prompt in the log. */
  requested(event) {
    const upload = h('button', { type: 'button', class: 'primary', 'data-testid': 'file-request-upload' }, 'Upload a file');
    const decline = h('button', { type: 'button', class: 'secondary', 'data-testid': 'file-request-decline' }, 'Decline');
    const prompt = h(
      'div',
      { class: 'card file-request', 'data-testid': 'file-request', 'data-request-id': event.request_id },
      h('p', { class: 'card-title' }, 'The agent asked you for a file.'),
      h('div', { class: 'card-actions' }, upload, decline),
    );
    upload.addEventListener('click', () => this.pick(event.request_id));
    decline.addEventListener('click', async () => {
      decline.disabled = true;
      try {
        await this.chat.declineFileRequest(event.request_id);
      } catch (err) {
        decline.disabled = false;
        prompt.append(h('p', { class: 'error', role: 'alert' }, err?.message ?? 'Could not decline.'));
      }
    });
    this.openRequests.set(event.request_id, prompt);
    this.log.insert(event, prompt);
    upload.disabled = decline.disabled = !this.enabled;
  }

  /** `file.received`, `file.request_canceled`, `file.request_declined`: the prompt is answered. */
  requestClosed(event) {
    const prompt =
      this.openRequests.get(event.request_id) ??
      this.log.root.querySelector(`[data-request-id="${CSS.escape(event.request_id)}"]`);
    this.openRequests.delete(event.request_id);
    if (!prompt) return;
    const text = {
      'file.received': 'File received. Thank you!',
      'file.request_canceled': 'The agent no longer needs the file.',
      'file.request_declined': 'You declined to send a file.',
    }[event.type];
    prompt.classList.add('closed');
    prompt.dataset.state = event.type;
    prompt.querySelector('.card-actions')?.remove();
    prompt.querySelector('.card-title').textContent = text;
  }

  async #fillLinks(card, event) {
    try {
      const details = await this.chat.attachment(event.attachment_id);
      const link = card.querySelector('.file-link');
      if (details.download?.url) {
        link.href = details.download.url;
        link.setAttribute('download', event.name);
        link.dataset.expiresAt = details.download.expires_at ?? '';
      }
      if (details.thumbnail?.url) {
        card.querySelector('.thumb-slot').replaceChildren(
          h('img', { class: 'thumb', src: details.thumbnail.url, alt: `Preview of ${event.name}`, 'data-testid': 'attachment-thumbnail' }),
        );
      }
    } catch {
      // the link is fetched again on click
    }
  }

  async #download(clickEvent, event) {
    const link = clickEvent.currentTarget;
    const expiresAt = Date.parse(link.dataset.expiresAt ?? '');
    if (link.getAttribute('href') !== '#' && Number.isFinite(expiresAt) && expiresAt - Date.now() > 10_000) return;
    clickEvent.preventDefault();
    if (!this.chat) return;
    try {
      const details = await this.chat.attachment(event.attachment_id);
      if (!details.download?.url) return;
      link.href = details.download.url;
      link.setAttribute('download', event.name);
      link.dataset.expiresAt = details.download.expires_at ?? '';
      link.click();
    } catch {
      // nothing to open
    }
  }
}

function statusText(status, reason) {
  switch (status) {
    case 'scanning':
      return 'Checking the file…';
    case 'rejected':
      return reason ? `This file was rejected: ${reason}` : 'This file was rejected.';
    case 'uploading':
      return 'Uploading…';
    default:
      return '';
  }
}

function uploadErrorMessage(err) {
  switch (err?.code) {
    case 'unsupported_media_type':
      return 'This type of file cannot be sent.';
    case 'payload_too_large':
      return 'This file is too large.';
    case 'conversation_ended':
      return 'The chat has ended.';
    case 'network_error':
      return 'The upload failed: no connection.';
    default:
      return err?.message ? `The upload failed: ${err.message}` : 'The upload failed.';
  }
}
