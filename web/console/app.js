// Entry point of the agent console: signs in (or resumes the tab's session),
// starts the console, and signs out.

import { AgentClient } from '/assets/sdk/index.js';
import { Console } from './console.js';
import { savedToken, saveToken, forgetToken } from './session.js';
import { arm, alertsReady } from './alerts.js';

const loginView = document.getElementById('login-view');
const appView = document.getElementById('app-view');
const loginForm = document.getElementById('login-form');
const loginError = document.getElementById('login-error');
const notifyButton = document.getElementById('notify-button');
let current = null;

function showLogin(message = '') {
  appView.hidden = true;
  loginView.hidden = false;
  loginError.textContent = message;
  document.getElementById('login-name').focus();
}

async function startConsole(agent) {
  current = new Console(agent, { signedOut: (reason) => signOut(reason) });
  loginView.hidden = true;
  appView.hidden = false;
  refreshNotifyButton();
  // The first thing an agent does: say whether it takes chats.
  document.getElementById('presence-select').focus();
  try {
    await current.start();
  } catch (err) {
    if (err.code === 'unauthenticated' || err.status === 401) signOut('Your session has ended. Sign in again.');
    else document.getElementById('connection').textContent = `Cannot connect: ${err.message}`;
  }
}

const NOTICE = 'switchboard.console.notice';

/** Forgets the token and starts over from a fresh page (nothing of the old
 * session's state or listeners survives); `reason` is shown on the sign-in form. */
function signOut(reason) {
  forgetToken();
  current?.stop();
  current = null;
  try {
    if (reason) sessionStorage.setItem(NOTICE, reason);
  } catch { /* the reason is not shown */ }
  location.reload();
}

function takeNotice() {
  try {
    const notice = sessionStorage.getItem(NOTICE) || '';
    sessionStorage.removeItem(NOTICE);
    return notice;
  } catch {
    return '';
  }
}

function loginMessage(err) {
  if (err.status === 401 || err.code === 'unauthenticated') return 'Wrong login or password.';
  if (err.code === 'rate_limited') return `Too many attempts; try again in ${err.retryAfterSecs || 'a few'} seconds.`;
  if (err.code === 'network_error' || err.code === 'client_timeout') return 'The server cannot be reached. Try again.';
  return err.message || 'Sign-in failed.';
}

loginForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  arm();
  const login = loginForm.elements.login.value.trim();
  const password = loginForm.elements.password.value;
  if (!login || !password) {
    loginError.textContent = 'Enter your login and password.';
    return;
  }
  const submit = loginForm.querySelector('[type="submit"]');
  submit.disabled = true;
  loginError.textContent = '';
  try {
    const agent = await AgentClient.login({ baseUrl: location.origin, login, password });
    saveToken(agent.token);
    loginForm.reset();
    await startConsole(agent);
  } catch (err) {
    loginError.textContent = loginMessage(err);
    loginForm.elements.password.select();
  } finally {
    submit.disabled = false;
  }
});

function refreshNotifyButton() {
  notifyButton.hidden = alertsReady();
}

notifyButton.addEventListener('click', () => {
  arm().then(refreshNotifyButton);
});

document.getElementById('logout-button').addEventListener('click', () => signOut());

const token = savedToken();
if (token) startConsole(new AgentClient({ baseUrl: location.origin, token }));
else showLogin(takeNotice());
