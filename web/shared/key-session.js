// Sign-in with a bearer token for the supervisor view and the admin pages
// (created by them). Today that is a workspace API key (sbk_…); any token the
// server accepts on GET /api/v1/me works. The token is kept for this tab only
// (sessionStorage), shared by both pages so moving between them keeps you in.

import { RestClient } from './api.js';
import { h } from './dom.js';

const KEY = 'switchboard.workspace.token';

export function savedToken() {
  try { return sessionStorage.getItem(KEY); } catch { return null; }
}

function saveToken(token) {
  try { sessionStorage.setItem(KEY, token); } catch { /* private mode: kept until reload */ }
}

export function forgetToken() {
  try { sessionStorage.removeItem(KEY); } catch { /* nothing kept */ }
}

/** Checks a token with GET /me; resolves with `{me, api}` or throws ApiError. */
export async function checkToken(token, onUnauthorized) {
  const api = new RestClient({ token, onUnauthorized });
  const me = await api.get('/me');
  return { me, api };
}

function signInMessage(err) {
  if (err.status === 401) return 'This key is not valid (or has been revoked).';
  if (err.status === 403) return 'This key may not open this page.';
  if (err.code === 'network_error') return 'The server cannot be reached. Try again.';
  return err.message || 'Sign-in failed.';
}

/** The sign-in form (a password field for the key, with where to find one). */
function signInForm(title) {
  return h('form', { id: 'login-form', class: 'login-card', 'data-testid': 'login-form', novalidate: true },
    h('h1', {}, title),
    h('p', { class: 'muted' }, 'Sign in with a workspace API key (', h('code', {}, 'sbk_…'), '): the key printed when the '
      + 'server first started (also saved as ', h('code', {}, 'admin-key'), ' in its data directory), or one from ',
    h('code', {}, 'switchboard'), '\u2019s admin.'),
    h('label', { for: 'login-token' }, 'Workspace key'),
    h('input', { id: 'login-token', name: 'token', type: 'password', autocomplete: 'current-password', required: true, spellcheck: 'false', 'data-testid': 'login-token' }),
    h('p', { id: 'login-error', class: 'error', role: 'alert', 'data-testid': 'login-error' }),
    h('button', { type: 'submit', class: 'primary', 'data-testid': 'login-submit' }, 'Sign in'));
}

/**
 * Builds the page's sign-in form in `#login-view` and wires it and the
 * sign-out button (`#logout-button`); `#app-view` is shown once signed in.
 * @param {{ title: string,
 *           start: (session: {me: object, api: RestClient, token: string, signOut: () => void}) => Promise<void>|void,
 *           stop: () => void }} page
 */
export function wireSignIn(page) {
  const loginView = document.getElementById('login-view');
  const appView = document.getElementById('app-view');
  const form = signInForm(page.title);
  loginView.replaceChildren(form);
  const error = form.querySelector('#login-error');
  const input = form.elements.token;

  const showLogin = (message = '') => {
    appView.hidden = true;
    loginView.hidden = false;
    error.textContent = message;
    input.focus();
  };
  const signOut = (message) => {
    forgetToken();
    page.stop();
    showLogin(message);
  };
  const expired = () => signOut('Your key is no longer accepted. Sign in again.');

  const open = async (token) => {
    const { me, api } = await checkToken(token, expired);
    saveToken(token);
    loginView.hidden = true;
    appView.hidden = false;
    await page.start({ me, api, token, signOut: expired });
  };

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = input.value.trim();
    if (!token) {
      error.textContent = 'Enter the key.';
      input.focus();
      return;
    }
    const submit = form.querySelector('[type="submit"]');
    submit.disabled = true;
    error.textContent = '';
    try {
      await open(token);
      form.reset();
    } catch (err) {
      error.textContent = signInMessage(err);
      input.select();
    } finally {
      submit.disabled = false;
    }
  });

  document.getElementById('logout-button').addEventListener('click', () => signOut(''));

  const token = savedToken();
  if (!token) {
    showLogin();
    return;
  }
  open(token).catch((err) => {
    // Only a refused key is forgotten; after a network failure a reload may do.
    if (err.status === 401) forgetToken();
    showLogin(err.status === 401 ? 'Your key is no longer accepted. Sign in again.' : signInMessage(err));
  });
}
