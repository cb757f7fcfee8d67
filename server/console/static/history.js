// The run history from the audit log (GET /v1/runs) with filters, and a
// run's detail (GET /v1/runs/{id}). The log keeps no output.

import { api } from './api.js';
import { el, clear, badge, fmtBytes, fmtMs, fmtTime, kv, option } from './dom.js';
import { detectionList, errorText } from './run.js';

const $ = (id) => document.getElementById(id);
let offset = 0;

export function initHistory(langs, statuses) {
  $('history-status').append(...statuses.map((s) => option(s)));
  $('history-language').append(...langs.map((l) => option(l.name)));
  const tiers = [...new Set(langs.flatMap((l) => l.backends || []))].sort();
  $('history-backend').append(...tiers.map((b) => option(b)));
  $('history-form').onsubmit = (e) => { e.preventDefault(); offset = 0; load(false); };
  $('history-more').onclick = () => load(true);
}

function query() {
  const q = new URLSearchParams();
  for (const k of ['status', 'language', 'backend']) {
    const v = $('history-' + k).value;
    if (v) q.set(k, v);
  }
  for (const k of ['since', 'until']) {
    const v = $('history-' + k).value; // local time, no zone
    if (v) q.set(k, new Date(v).toISOString());
  }
  q.set('limit', '50');
  q.set('offset', String(offset));
  return q;
}

// load fetches a page; more appends it to the table.
export async function load(more) {
  const body = $('history-table').tBodies[0];
  const note = $('history-note');
  if (!more) clear(body);
  try {
    const page = await api('/v1/runs?' + query());
    offset = page.offset + page.runs.length;
    body.append(...page.runs.map(row));
    $('history-more').hidden = !page.more;
    note.textContent = body.rows.length ? `${body.rows.length} run(s), newest first.` : 'No runs match.';
  } catch (e) {
    note.textContent = e.status === 501 ? 'This server keeps no run history (the audit log is off).' : errorText(e);
  }
}

function row(r) {
  const u = r.usage || {};
  const redactions = (r.detections || []).reduce((n, d) => n + d.count, 0);
  const tr = el('tr', { class: 'clickable', 'data-run-id': r.id, tabIndex: 0 },
    el('td', {}, fmtTime(r.started_at)), el('td', {}, badge(r.status)), el('td', {}, r.language),
    el('td', {}, r.backend), el('td', {}, r.signal || String(r.exit_code)), el('td', {}, fmtMs(u.wall_ms)),
    el('td', {}, fmtMs(u.cpu_ms)), el('td', {}, fmtBytes(u.memory_peak_bytes)), el('td', {}, redactions ? String(redactions) : ''),
    el('td', { class: 'mono' }, r.id.slice(0, 12), r.session ? el('div', { class: 'muted', title: 'a step of session ' + r.session }, 'step') : ''));
  const open = () => { location.hash = '#history/' + encodeURIComponent(r.id); };
  tr.addEventListener('click', open);
  tr.addEventListener('keydown', (e) => { if (e.key === 'Enter') open(); });
  return tr;
}

// showDetail opens one run (the view's #history/<id>).
export async function showDetail(id) {
  const box = clear($('history-detail'));
  box.hidden = false;
  for (const tr of $('history-table').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.runId === id);
  try {
    const r = await api('/v1/runs/' + encodeURIComponent(id));
    const u = r.usage || {};
    box.append(el('h2', {}, 'Run ', el('span', { class: 'mono', id: 'detail-id' }, r.id)), kv([
      ['status', badge(r.status)], ['message', r.error], ['language', r.language], ['tier', r.backend],
      ['exit code', String(r.exit_code)], ['signal', r.signal], ['started', fmtTime(r.started_at)],
      ['session', r.session ? el('span', { class: 'mono' }, r.session) : ''],
      ['wall', fmtMs(u.wall_ms)], ['setup', u.setup_ms ? fmtMs(u.setup_ms) : ''], ['cpu', fmtMs(u.cpu_ms)], ['memory peak', fmtBytes(u.memory_peak_bytes)],
      ['code sha256', el('span', { class: 'mono' }, r.code_sha256)], ['sanitized', r.sanitized ? 'yes' : 'no'],
      ['downgrades', (r.downgrades || []).join(', ')], ['warnings', (r.warnings || []).join('; ')],
    ]), detectionList(r.detections), el('p', { class: 'muted' }, 'The audit log keeps no output: only what is shown here.'));
  } catch (e) {
    box.append(el('p', { class: 'error' }, errorText(e)));
  }
}

export function hideDetail() { $('history-detail').hidden = true; }
