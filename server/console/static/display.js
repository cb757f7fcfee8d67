// What a program showed (Result.display, or the display events of a
// streamed run): figures inline as images, a value as text, a table
// rebuilt cell by cell from the value's HTML. Nothing from the program is
// parsed into this page: images are data: URLs in <img> (which runs no
// script, not even an SVG's), and the HTML is parsed in an inert document
// (DOMParser: no scripts, no loads) from which only the cells' text is
// copied into new table elements.

import { el } from './dom.js';

// richest picks, per output, the item to show: an image (PNG before SVG),
// else a table, else the text.
function richest(items) {
  const rank = { 'image/png': 0, 'image/svg+xml': 1, 'text/html': 2, 'text/plain': 3 };
  const by = new Map();
  for (const it of items) {
    const cur = by.get(it.output);
    if (!cur || (rank[it.mime] ?? 9) < (rank[cur.mime] ?? 9)) by.set(it.output, it);
  }
  return [...by.values()];
}

function image(it) {
  const src = it.mime === 'image/png'
    ? 'data:image/png;base64,' + it.data
    : 'data:image/svg+xml;charset=utf-8,' + encodeURIComponent(it.data);
  const label = it.figure ? `figure ${it.figure}` : `output ${it.output}`;
  return el('figure', { class: 'display-figure' }, el('img', { src, alt: label, class: 'display-image' }),
    el('figcaption', { class: 'muted' }, `${label}${it.width ? ` · ${it.width}×${it.height}` : ''}`));
}

const CELLS = new Set(['THEAD', 'TBODY', 'TR', 'TH', 'TD']);

// table copies the first <table> of html as text cells, or returns null.
function table(html) {
  const doc = new DOMParser().parseFromString(html, 'text/html');
  const src = doc.querySelector('table');
  if (!src) return null;
  const copy = (node) => {
    const out = el(node.tagName.toLowerCase(), {});
    for (const c of node.children) {
      if (CELLS.has(c.tagName)) out.append(c.tagName === 'TH' || c.tagName === 'TD' ? el(c.tagName.toLowerCase(), {}, c.textContent) : copy(c));
    }
    return out;
  };
  const t = copy(src);
  t.className = 'display-table';
  return t;
}

// displayList renders items (possibly none) as a section, or null.
export function displayList(items) {
  if (!items || !items.length) return null;
  const out = el('div', { id: 'run-display', class: 'display' });
  for (const it of richest(items)) {
    if (it.mime === 'image/png' || it.mime === 'image/svg+xml') out.append(image(it));
    else if (it.mime === 'text/html') {
      const text = items.find((x) => x.output === it.output && x.mime === 'text/plain');
      out.append(table(it.data) || el('pre', { class: 'display-text' }, text ? text.data : ''));
    } else out.append(el('pre', { class: 'display-text' }, it.data));
  }
  return out;
}
