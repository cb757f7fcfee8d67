// DOM helpers. Everything that came from a program or a caller (output,
// file names, error messages, ids) goes into the page as text nodes:
// nothing here parses a string as markup.

// el builds an element: attrs are properties (class, id, href...) or
// data-* / aria-* attributes; children are nodes or strings (as text).
export function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k.startsWith('data-') || k.startsWith('aria-') || k === 'role' || k === 'title') e.setAttribute(k, String(v));
    else if (k === 'on') for (const [ev, f] of Object.entries(v)) e.addEventListener(ev, f);
    else e[k] = v;
  }
  append(e, ...children);
  return e;
}

export function append(parent, ...children) {
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    parent.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return parent;
}

export function clear(e) { e.replaceChildren(); return e; }

// The sanitizer replaces a secret with [REDACTED_<KIND>].
const REDACTED = /\[REDACTED_[A-Z0-9_]+\]/g;

// textWithMarks appends text to parent, with each redaction marker in a
// <mark> so it stands out; class cls (stdout/stderr) on each piece.
export function textWithMarks(parent, text, cls) {
  let last = 0;
  const wrap = (node) => (cls ? el('span', { class: cls }, node) : node);
  for (const m of text.matchAll(REDACTED)) {
    if (m.index > last) parent.append(wrap(document.createTextNode(text.slice(last, m.index))));
    parent.append(wrap(el('mark', { title: 'redacted by the sanitizer' }, m[0])));
    last = m.index + m[0].length;
  }
  if (last < text.length) parent.append(wrap(document.createTextNode(text.slice(last))));
}

export function badge(status) {
  return el('span', { class: 'badge ' + String(status).replace(/[^a-z_]/g, ''), 'data-status': status }, status);
}

export function fmtBytes(n) {
  if (!n) return '0';
  const u = ['B', 'KiB', 'MiB', 'GiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}

export function fmtMs(ms) {
  if (ms === undefined || ms === null) return '';
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(2)} s`;
}

export function fmtTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  return isNaN(d) ? String(iso) : d.toLocaleString();
}

// kv builds a <dl> from [label, value] pairs (values as text or nodes).
export function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) {
    if (v === undefined || v === null || v === '') continue;
    dl.append(el('dt', {}, k), el('dd', {}, v));
  }
  return dl;
}

export function option(value, label, selected) {
  return el('option', { value, selected: !!selected }, label ?? value);
}

// download offers bytes (base64) as a file. The name is the program's:
// the browser's download attribute keeps it a plain file name, and the
// type is octet-stream, so the browser never renders it.
export function downloadLink(name, b64) {
  const bin = atob(b64 || '');
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  const url = URL.createObjectURL(new Blob([bytes], { type: 'application/octet-stream' }));
  return el('a', { href: url, download: name.split('/').pop() || 'file', 'data-file': name }, name);
}

// editorKeys gives a textarea the keys of a small code editor: Tab and
// Shift+Tab indent and dedent (Esc first lets Tab leave), Enter keeps the
// indentation (one more level after ':' or an open bracket), Ctrl/Cmd+
// Enter calls run.
export function editorKeys(ta, run) {
  const IND = '    ';
  let escaped = false;
  ta.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') { escaped = true; return; }
    if ((e.ctrlKey || e.metaKey) && e.key === 'Enter') { e.preventDefault(); run(); return; }
    if (e.key === 'Tab' && !escaped) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: t, value: v } = ta;
      const ls = v.lastIndexOf('\n', s - 1) + 1;
      if (!e.shiftKey && s === t) { ta.setRangeText(IND, s, t, 'end'); return; }
      const block = v.slice(ls, t);
      const lines = block.split('\n');
      const out = lines.map((l) => (e.shiftKey ? l.replace(/^( {1,4}|\t)/, '') : IND + l)).join('\n');
      ta.setRangeText(out, ls, t, 'preserve');
      ta.setSelectionRange(ls, ls + out.length);
      return;
    }
    escaped = false;
    if (e.key === 'Enter' && !e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault();
      const { selectionStart: s, selectionEnd: t, value: v } = ta;
      const line = v.slice(v.lastIndexOf('\n', s - 1) + 1, s);
      let indent = line.match(/^[ \t]*/)[0];
      if (/[:{[(]\s*$/.test(line)) indent += IND;
      ta.setRangeText('\n' + indent, s, t, 'end');
    }
  });
}
