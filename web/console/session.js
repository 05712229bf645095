// The agent token, kept for this tab only: a refresh stays signed in, closing
// the tab forgets it. Signing out forgets it too (the token is not revoked).

const KEY = 'switchboard.console.token';

export function savedToken() {
  try { return sessionStorage.getItem(KEY); } catch { return null; }
}

export function saveToken(token) {
  try { sessionStorage.setItem(KEY, token); } catch { /* private mode: stays signed in until refresh */ }
}

export function forgetToken() {
  try { sessionStorage.removeItem(KEY); } catch { /* nothing kept */ }
}
