// The console's entry point: the token, the views (#run, #history,
// #history/<id>, #sessions, #health) and the data every view shares
// (languages from /v1/languages, statuses from /openapi.json).

import { api, setToken, forgetToken, token, onUnauthorized } from './api.js';
import { initRun, errorText } from './run.js';
import { initHistory, load as loadHistory, showDetail, hideDetail } from './history.js';
import { initSessions, load as loadSessions } from './sessions.js';
import * as health from './health.js';

const $ = (id) => document.getElementById(id);
const VIEWS = ['run', 'history', 'sessions', 'health'];

function askToken(message) {
  const d = $('token-dialog');
  $('token-error').textContent = message || '';
  if (!d.open) d.showModal();
  $('token-input').focus();
}

function route() {
  const [view, arg] = (location.hash.slice(1) || 'run').split('/');
  const v = VIEWS.includes(view) ? view : 'run';
  for (const name of VIEWS) $('view-' + name).hidden = name !== v;
  for (const a of document.querySelectorAll('nav a')) {
    if (a.dataset.view === v) a.setAttribute('aria-current', 'page'); else a.removeAttribute('aria-current');
  }
  if (v === 'health') health.start(); else health.stop();
  if (v === 'history') {
    loadHistory(false);
    if (arg) showDetail(decodeURIComponent(arg)); else hideDetail();
  }
  if (v === 'sessions') loadSessions();
}

let started = false;

async function start() {
  if (started) { route(); return; }
  let langs;
  try {
    langs = await api('/v1/languages');
  } catch (e) {
    if (e.status === 401) {
      askToken(token() ? 'That token was refused.' : '');
      return;
    }
    $('server-state').textContent = 'cannot reach the API: ' + errorText(e);
    return;
  }
  let statuses = [];
  try {
    const doc = await (await fetch('/openapi.json', { credentials: 'omit' })).json();
    statuses = doc.components.schemas.Status.enum;
  } catch { /* the filter then offers "any" only */ }
  $('forget-token').hidden = !token();
  $('server-state').textContent = `${langs.languages.length} languages`;
  started = true;
  initRun(langs.languages);
  initHistory(langs.languages, statuses);
  initSessions(langs.languages);
  window.addEventListener('hashchange', route);
  route();
  document.body.dataset.ready = 'true';
}

$('token-form').addEventListener('submit', (e) => {
  e.preventDefault();
  const t = $('token-input').value.trim();
  if (!t) return;
  setToken(t);
  $('token-input').value = '';
  $('token-dialog').close();
  start();
});
$('forget-token').onclick = () => { forgetToken(); location.reload(); };
onUnauthorized(() => askToken('The server refused the token.'));
start();
