// How the console gets an agent's attention: a short tone made with WebAudio
// (no sound file), a browser notification when the tab is hidden, and a polite
// screen-reader announcement. Sound and notifications need a user gesture
// first: `arm()` is called from one (signing in, or the alerts button).

let audio = null;

export function arm() {
  try {
    audio = audio || new AudioContext();
    if (audio.state === 'suspended') audio.resume();
  } catch { audio = null; }
  if ('Notification' in window && Notification.permission === 'default') {
    return Notification.requestPermission().catch(() => 'default');
  }
  return Promise.resolve();
}

export function alertsReady() {
  return Boolean(audio) && (!('Notification' in window) || Notification.permission !== 'default');
}

/** Two short rising tones. */
export function chime() {
  if (!audio || audio.state !== 'running') return;
  const start = audio.currentTime;
  [660, 880].forEach((freq, i) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.type = 'sine';
    osc.frequency.value = freq;
    const t = start + i * 0.16;
    gain.gain.setValueAtTime(0.0001, t);
    gain.gain.exponentialRampToValueAtTime(0.2, t + 0.02);
    gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.15);
    osc.connect(gain).connect(audio.destination);
    osc.start(t);
    osc.stop(t + 0.16);
  });
}

/** A system notification, only while the tab is hidden (else the page shows it). */
export function notify(title, body, tag) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return;
  try {
    const n = new Notification(title, { body, tag });
    n.onclick = () => { window.focus(); n.close(); };
  } catch { /* some browsers only allow notifications from a service worker */ }
}

/** Says something to screen readers through the page's status region. */
export function announce(text) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A new text node in a fresh task is announced even when the text repeats.
  setTimeout(() => { region.textContent = text; }, 50);
}
