// Live sessions (/v1/sessions): list, create, open one and run steps in
// it (interactive: values are echoed, as in a REPL), close it.

import { api } from './api.js';
import { el, clear, textWithMarks, badge, fmtTime, option, editorKeys } from './dom.js';
import { errorText } from './run.js';
import { displayList } from './display.js';

const $ = (id) => document.getElementById(id);
let current = null; // the open session's id

export function initSessions(langs) {
  $('session-language').append(...langs.map((l) => option(l.name)));
  const tiers = [...new Set(langs.flatMap((l) => l.backends || []))].sort();
  $('session-backend').append(...tiers.map((b) => option(b)));
  $('session-form').onsubmit = async (e) => {
    e.preventDefault();
    const spec = { language: $('session-language').value, limits: {} };
    if ($('session-backend').value) spec.backend = $('session-backend').value;
    try {
      const info = await api('/v1/sessions', { method: 'POST', json: spec });
      await load();
      open(info.id);
    } catch (err) {
      $('session-note').textContent = errorText(err);
    }
  };
  $('session-step-form').onsubmit = (e) => { e.preventDefault(); step(); };
  $('session-close').onclick = closeCurrent;
  editorKeys($('session-code'), step);
}

export async function load() {
  const body = clear($('session-table').tBodies[0]);
  const note = $('session-note');
  try {
    const { sessions } = await api('/v1/sessions');
    note.textContent = sessions.length ? '' : 'No live sessions.';
    for (const s of sessions) {
      body.append(el('tr', { 'data-session-id': s.id, class: s.id === current ? 'selected' : '' },
        el('td', { class: 'mono' }, s.id.slice(0, 12)), el('td', {}, s.language), el('td', {}, s.backend),
        el('td', {}, s.status ? badge(s.status) : s.state, s.error ? el('div', { class: 'muted' }, s.error) : ''),
        el('td', {}, String(s.runs)), el('td', {}, fmtTime(s.created_at)), el('td', {}, fmtTime(s.expires_at)),
        el('td', {}, el('button', { type: 'button', on: { click: () => open(s.id) } }, 'Open'))));
    }
  } catch (e) {
    note.textContent = e.status === 404 ? 'Sessions are off on this server (serve --sessions=false).' : errorText(e);
  }
}

function open(id) {
  current = id;
  $('session-panel').hidden = false;
  $('session-title').textContent = 'Session ' + id;
  clear($('session-transcript'));
  for (const tr of $('session-table').tBodies[0].rows) tr.classList.toggle('selected', tr.dataset.sessionId === id);
  $('session-code').focus();
}

async function step() {
  if (!current) return;
  const code = $('session-code').value;
  if (!code.trim()) return;
  const tr = $('session-transcript');
  tr.append(el('pre', { class: 'in' }, code.split('\n').map((l, i) => (i ? '... ' : '>>> ') + l).join('\n')));
  $('session-code').value = ''; // as a REPL: the line moves into the transcript
  $('session-run').disabled = true;
  try {
    const res = await api(`/v1/sessions/${encodeURIComponent(current)}/run`, { method: 'POST', json: { code, interactive: true } });
    const out = el('pre', { class: 'out' });
    textWithMarks(out, res.stdout || '');
    const err = el('pre', { class: 'err' });
    textWithMarks(err, res.stderr || '');
    tr.append(out, err);
    const shown = displayList(res.display);
    if (shown) tr.append(shown);
    if (res.status !== 'ok') tr.append(el('div', {}, badge(res.status), ' ', res.error || ''));
  } catch (e) {
    tr.append(el('p', { class: 'error' }, errorText(e)));
  } finally {
    $('session-run').disabled = false;
    tr.scrollTop = tr.scrollHeight;
    load();
  }
}

async function closeCurrent() {
  if (!current) return;
  try {
    await api('/v1/sessions/' + encodeURIComponent(current), { method: 'DELETE' });
  } catch (e) {
    $('session-note').textContent = errorText(e);
  }
  current = null;
  $('session-panel').hidden = true;
  load();
}
