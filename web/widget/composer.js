// The composer: a text box that sends on Enter (Shift+Enter for a new line),
// tells the agent the customer is typing (with the draft as a preview), and
// keeps the draft across refreshes.

export class Composer {
  /**
   * @param {HTMLFormElement} form
   * @param {{onSend: (text: string) => void, onTyping: (draft: string) => void, onDraft: (draft: string) => void}} hooks
   */
  constructor(form, { onSend, onTyping, onDraft }) {
    this.form = form;
    this.input = form.querySelector('textarea');
    this.sendButton = form.querySelector('button[type="submit"]');
    this.onSend = onSend;
    this.onTyping = onTyping;
    this.onDraft = onDraft;

    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.#submit();
    });
    this.input.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.#submit();
      }
    });
    this.input.addEventListener('input', () => {
      this.#autosize();
      const draft = this.input.value;
      this.onDraft(draft);
      if (draft.trim() !== '') this.onTyping(draft.slice(0, 200));
    });
  }

  setDraft(text) {
    this.input.value = text;
    this.#autosize();
  }

  setEnabled(enabled) {
    this.input.disabled = !enabled;
    this.sendButton.disabled = !enabled;
    for (const button of this.form.querySelectorAll('button')) button.disabled = !enabled;
  }

  focus() {
    this.input.focus();
  }

  #submit() {
    const text = this.input.value.trim();
    if (text === '' || this.input.disabled) return;
    this.input.value = '';
    this.#autosize();
    this.onDraft('');
    this.onSend(text);
  }

  #autosize() {
    const style = this.input.style;
    style.setProperty('height', 'auto');
    style.setProperty('height', `${Math.min(this.input.scrollHeight, 120)}px`);
  }
}
