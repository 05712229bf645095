// An entry point's public widget settings and its availability, with
// defaults for anything the server does not say.

export const DEFAULT_CONFIG = Object.freeze({
  name: 'Chat',
  enabled: true,
  style: { title: 'Chat with us', accent_color: '#1f5fbf', logo_url: null, greeting: 'Hi! How can we help you today?' },
  prechat: { fields: [{ name: 'display_name', label: 'Your name', kind: 'text', required: true }] },
});

const KINDS = new Set(['text', 'email', 'tel', 'textarea', 'select']);

/** `GET /api/v1/entry-points/{id}/widget`, merged over the defaults (a 404 gives the defaults). */
export async function loadWidgetConfig(baseUrl, entryPointId) {
  const url = `${baseUrl}/api/v1/entry-points/${encodeURIComponent(entryPointId)}/widget`;
  let body = null;
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    if (res.ok) body = await res.json();
    else if (res.status !== 404) throw new Error(`widget settings: HTTP ${res.status}`);
  } catch (err) {
    console.warn('switchboard widget: using default settings', err);
  }
  return normalize(body);
}

function normalize(body) {
  const style = { ...DEFAULT_CONFIG.style };
  for (const [key, value] of Object.entries(body?.style ?? {})) {
    if (typeof value === 'string' && value.trim() !== '') style[key] = value;
  }
  if (!/^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(style.accent_color)) style.accent_color = DEFAULT_CONFIG.style.accent_color;
  if (style.logo_url && !/^(https:\/\/|\/(?!\/))/i.test(style.logo_url)) style.logo_url = null;
  const rawFields = Array.isArray(body?.prechat?.fields) ? body.prechat.fields : DEFAULT_CONFIG.prechat.fields;
  const fields = rawFields
    .filter((f) => f && typeof f.name === 'string' && f.name !== '')
    .map((f) => ({
      name: f.name,
      label: typeof f.label === 'string' && f.label !== '' ? f.label : f.name,
      kind: KINDS.has(f.kind) ? f.kind : 'text',
      required: Boolean(f.required),
      options: Array.isArray(f.options) ? f.options.map(String) : [],
    }));
  return {
    name: typeof body?.name === 'string' ? body.name : DEFAULT_CONFIG.name,
    enabled: body?.enabled !== false,
    style,
    prechat: { fields },
  };
}

/**
 * `GET /api/v1/entry-points/{id}/availability`: `{state: 'open' | 'closed' |
 * 'no_agent_available', next_open_at, closes_at}`; `null` when unknown.
 */
export async function loadAvailability(baseUrl, entryPointId) {
  const url = `${baseUrl}/api/v1/entry-points/${encodeURIComponent(entryPointId)}/availability`;
  try {
    const res = await fetch(url, { headers: { accept: 'application/json' } });
    if (!res.ok) return null;
    return await res.json();
  } catch {
    return null;
  }
}

/** Picks black or white text for a background colour (WCAG relative luminance). */
export function textColorFor(hex) {
  let digits = hex.slice(1);
  if (digits.length === 3) digits = [...digits].map((d) => d + d).join('');
  const [r, g, b] = [0, 2, 4].map((i) => {
    const c = parseInt(digits.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  });
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  // contrast with white: 1.05 / (L + 0.05); with black: (L + 0.05) / 0.05
  return 1.05 / (luminance + 0.05) >= (luminance + 0.05) / 0.05 ? '#ffffff' : '#000000';
}
