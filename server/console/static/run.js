// The playground: language, tier, limits, code; Run streams the output
// as it comes (server-sent events from POST /v1/runs), then shows the
// verdict, usage, redactions and collected files.

import { streamRun, ApiError } from './api.js';
import { displayList } from './display.js';
import { el, clear, textWithMarks, badge, fmtBytes, fmtMs, kv, option, downloadLink, editorKeys } from './dom.js';

const $ = (id) => document.getElementById(id);
const LANG_KEY = 'sandrun.console.language';

let languages = [];
let controller = null;

export function initRun(langs) {
  languages = langs;
  const sel = $('run-language');
  const saved = localStorage.getItem(LANG_KEY);
  sel.replaceChildren(...langs.map((l) => option(l.name, `${l.name} ${l.version}`, l.name === saved)));
  fillBackends();
  sel.onchange = () => { localStorage.setItem(LANG_KEY, sel.value); fillBackends(); };
  $('run-form').onsubmit = (e) => { e.preventDefault(); run(); };
  $('run-stop').onclick = () => controller && controller.abort();
  editorKeys($('run-code'), run);
}

function fillBackends() {
  const l = languages.find((x) => x.name === $('run-language').value);
  $('run-backend').replaceChildren(option('auto', 'auto (strongest)'), ...((l && l.backends) || []).map((b) => option(b)));
}

function request() {
  const req = { language: $('run-language').value, code: $('run-code').value, limits: {} };
  const backend = $('run-backend').value;
  if (backend && backend !== 'auto') req.backend = backend;
  const lim = { wall_time: $('run-wall').value, cpu_time: $('run-cpu').value, memory: $('run-memory').value };
  for (const [k, v] of Object.entries(lim)) if (v.trim()) req.limits[k] = v.trim();
  const collect = $('run-collect').value.split(',').map((s) => s.trim()).filter(Boolean);
  if (collect.length) req.collect = collect;
  const stdin = $('run-stdin').value;
  if (stdin) req.stdin = stdin;
  return req;
}

async function run() {
  if (controller) return;
  const out = clear($('run-output'));
  const verdict = clear($('run-verdict'));
  const details = clear($('run-details'));
  verdict.append(el('span', { class: 'muted' }, 'running…'));
  $('run-button').disabled = true;
  $('run-stop').disabled = false;
  controller = new AbortController();
  let dropped = 0;
  const shown = []; // display events: the result leaves them out
  try {
    const res = await streamRun(request(), (name, data) => {
      if (name === 'stdout' || name === 'stderr') textWithMarks(out, data.text, name);
      else if (name === 'dropped') dropped += data.chunks;
      else if (name === 'display') shown.push(data);
    }, controller.signal);
    if (!res.display) res.display = shown;
    if (dropped || !out.childNodes.length) {
      // Chunks were skipped for a slow reader (or none came): show the
      // Result's full output instead.
      clear(out);
      textWithMarks(out, res.stdout || '', 'stdout');
      textWithMarks(out, res.stderr || '', 'stderr');
    }
    showResult(res, verdict, details);
  } catch (e) {
    clear(verdict);
    if (e.name === 'AbortError') verdict.append(el('span', { class: 'error' }, 'stopped: the request was cancelled, so the server ended the run'));
    else verdict.append(el('span', { class: 'error', id: 'run-error' }, errorText(e)));
  } finally {
    controller = null;
    $('run-button').disabled = false;
    $('run-stop').disabled = true;
  }
}

export function errorText(e) {
  if (e instanceof ApiError) {
    const b = e.body || {};
    const fields = (b.errors || []).map((f) => `${f.field}: ${f.message}`);
    return `${e.status || ''} ${b.error || e.message}${fields.length > 1 ? ' — ' + fields.join('; ') : ''}`.trim();
  }
  return String(e && e.message ? e.message : e);
}

export function showResult(res, verdict, details) {
  clear(verdict);
  const exit = res.signal ? `signal ${res.signal}` : `exit ${res.exit_code}`;
  verdict.append(badge(res.status), ' ', el('span', { id: 'run-message' }, res.error || (res.success ? 'ok' : '')),
    el('span', { class: 'muted' }, ` · ${exit} · ${res.backend || ''}`));
  const u = res.usage || {};
  details.append(kv([
    ['run', res.id ? el('a', { href: '#history/' + encodeURIComponent(res.id), 'data-run-id': res.id }, res.id) : ''],
    ['wall', fmtMs(u.wall_ms)], ['setup', u.setup_ms ? fmtMs(u.setup_ms) : ''], ['cpu', fmtMs(u.cpu_ms)],
    ['memory peak', fmtBytes(u.memory_peak_bytes)], ['sanitized', res.sanitized ? 'yes' : 'no (raw output)'],
    ['truncated', [res.stdout_truncated && 'stdout', res.stderr_truncated && 'stderr'].filter(Boolean).join(', ')],
  ]));
  const shown = displayList(res.display);
  if (shown) details.append(el('h3', {}, 'Display'), shown);
  details.append(detectionList(res.detections));
  if (res.warnings && res.warnings.length) details.append(el('h3', {}, 'Warnings'), el('ul', { class: 'plain' }, res.warnings.map((w) => el('li', {}, w))));
  if (res.downgrades && res.downgrades.length) details.append(el('h3', {}, 'Downgrades'), el('ul', { class: 'plain' }, res.downgrades.map((w) => el('li', {}, w))));
  if (res.files && res.files.length) {
    details.append(el('h3', {}, 'Files'), el('ul', { class: 'plain', id: 'run-files' }, res.files.map((f) =>
      el('li', {}, downloadLink(f.name, f.content), el('span', { class: 'muted' }, ` ${fmtBytes(f.size)}${f.truncated ? ' (truncated)' : ''}`)))));
  }
}

export function detectionList(dets) {
  if (!dets || !dets.length) return el('p', { class: 'muted' }, 'No secrets redacted.');
  return el('div', { id: 'run-detections' }, el('h3', {}, 'Redactions'), el('table', {},
    el('thead', {}, el('tr', {}, el('th', {}, 'rule'), el('th', {}, 'where'), el('th', {}, 'count'))),
    el('tbody', {}, dets.map((d) => el('tr', {}, el('td', {}, d.rule), el('td', {}, d.stream), el('td', {}, String(d.count)))))));
}
