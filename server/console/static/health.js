// The server's health: /readyz (public) and /v1/status (runs, queue,
// refusals, audit log failures), refreshed while the view is open.

import { api } from './api.js';
import { el, clear, badge, fmtTime } from './dom.js';
import { errorText } from './run.js';

const $ = (id) => document.getElementById(id);
let timer = null;

function card(label, value, cls, id) {
  return el('div', { class: 'card ' + (cls || ''), id }, el('div', { class: 'value' }, String(value)), el('div', { class: 'label' }, label));
}

export async function refresh() {
  const cards = $('health-cards');
  let ready = { status: 'unknown' };
  try {
    const r = await fetch('/readyz', { cache: 'no-store', credentials: 'omit' });
    ready = await r.json();
  } catch { /* shown as unknown */ }
  try {
    const s = await api('/v1/status');
    const total = Object.values(s.runs).reduce((a, b) => a + b, 0);
    const audit = s.audit;
    clear(cards).append(
      card('readiness', ready.status, ready.status === 'ready' ? 'good' : 'bad', 'health-ready'),
      card('runs', total, '', 'health-runs-total'),
      card(`in flight (of ${s.max_concurrent})`, s.in_flight, '', 'health-inflight'),
      card(`queued (of ${s.max_queue})`, s.queued, '', 'health-queued'),
      card('audit write errors', audit ? audit.errors : 'no audit log', audit && audit.errors ? 'bad' : '', 'health-audit'),
      card('version', s.version), card('up since', fmtTime(s.started_at)),
    );
    if (audit && audit.last_error) cards.append(el('p', { class: 'error' }, `last audit error ${fmtTime(audit.last_error_time)}: ${audit.last_error}`));
    const rows = (obj, first) => Object.entries(obj).sort().map(([k, v]) => el('tr', {}, el('td', {}, first(k)), el('td', {}, String(v))));
    clear($('health-runs').tBodies[0] || $('health-runs').createTBody()).append(...rows(s.runs, badge));
    clear($('health-rejected').tBodies[0] || $('health-rejected').createTBody()).append(...rows(s.rejected, (k) => k));
  } catch (e) {
    clear(cards).append(card('readiness', ready.status, ready.status === 'ready' ? 'good' : 'bad', 'health-ready'), el('p', { class: 'error' }, errorText(e)));
  }
}

export function start() {
  stop();
  refresh();
  timer = setInterval(() => { if (!document.hidden) refresh(); }, 5000);
}

export function stop() {
  if (timer) clearInterval(timer);
  timer = null;
}
