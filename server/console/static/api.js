// The console's side of sandrun's JSON API. Same origin only; the bearer
// token (when the server has tokens) is kept in sessionStorage and sent as
// an Authorization header, never in a URL.

const TOKEN_KEY = 'sandrun.token';

export function token() { return sessionStorage.getItem(TOKEN_KEY) || ''; }
export function setToken(t) { sessionStorage.setItem(TOKEN_KEY, t); }
export function forgetToken() { sessionStorage.removeItem(TOKEN_KEY); }

// ApiError carries the HTTP status and the server's error body.
export class ApiError extends Error {
  constructor(status, body) {
    super((body && (body.error || body.message)) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

// listeners for a 401: the app asks for a token.
const unauthorized = new Set();
export function onUnauthorized(f) { unauthorized.add(f); }

function headers(extra) {
  const h = new Headers(extra || {});
  const t = token();
  if (t) h.set('Authorization', 'Bearer ' + t);
  return h;
}

async function body(resp) {
  const text = await resp.text();
  try { return JSON.parse(text); } catch { return { error: text.slice(0, 500) }; }
}

// api calls path (GET by default; a body is sent as JSON) and returns the
// decoded JSON, or throws ApiError.
export async function api(path, { method = 'GET', json, signal } = {}) {
  const init = { method, signal, headers: headers(), credentials: 'omit', cache: 'no-store' };
  if (json !== undefined) {
    init.headers.set('Content-Type', 'application/json');
    init.body = JSON.stringify(json);
  }
  const resp = await fetch(path, init);
  const b = await body(resp);
  if (resp.status === 401) unauthorized.forEach((f) => f());
  if (!resp.ok) throw new ApiError(resp.status, b);
  return b;
}

// streamRun posts a run with Accept: text/event-stream and calls onEvent
// (name, data) for each server-sent event as it arrives. It resolves with
// the final Result. A run refused before it started (bad request, queue
// full) has an ordinary JSON answer: it throws ApiError, or resolves with
// the Result the server sent with a non-200 status.
export async function streamRun(request, onEvent, signal) {
  const h = headers({ 'Content-Type': 'application/json', Accept: 'text/event-stream' });
  const resp = await fetch('/v1/runs', { method: 'POST', headers: h, body: JSON.stringify(request), signal, credentials: 'omit', cache: 'no-store' });
  const ct = resp.headers.get('Content-Type') || '';
  if (!ct.startsWith('text/event-stream')) {
    const b = await body(resp);
    if (resp.status === 401) unauthorized.forEach((f) => f());
    if (b && b.status && b.id) return b; // a Result (422, 500, 503)
    throw new ApiError(resp.status, b);
  }
  const reader = resp.body.getReader();
  const dec = new TextDecoder();
  let buf = '';
  let result = null;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += dec.decode(value, { stream: true });
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      const ev = parseEvent(block);
      if (!ev) continue;
      if (ev.name === 'result') result = ev.data;
      onEvent(ev.name, ev.data);
    }
  }
  if (!result) throw new ApiError(0, { error: 'the stream ended without a result' });
  return result;
}

function parseEvent(block) {
  let name = 'message';
  const data = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) name = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (!data.length) return null;
  try { return { name, data: JSON.parse(data.join('\n')) }; } catch { return null; }
}
