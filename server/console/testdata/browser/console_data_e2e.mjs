// The console shows what a program showed (issue 18), in headless
// Chromium with playwright-core: a run's figure inline as an image the
// browser decodes; a data session's step with a DataFrame (its table,
// rebuilt as cells) and its figure; and a hostile value's HTML stays
// text. Prints one JSON object; cmd/sandrun/console_data_test.go checks it.
//
// usage: node console_data_e2e.mjs URL TOKEN ARTIFACT_DIR
import { chromium } from 'playwright-core';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

const [url, token, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const shot = (page, name) => page.screenshot({ path: join(artifacts, name + '.png'), fullPage: true });
const T = 180_000; // generous: the machine may be busy

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const out = { pageErrors: [], requests: [] };
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
page.setDefaultTimeout(T);
page.on('pageerror', (e) => out.pageErrors.push(String(e)));
page.on('request', (r) => { if (!r.url().startsWith(url) && !r.url().startsWith('data:')) out.requests.push(r.url()); });
page.on('dialog', (d) => { out.dialogs = (out.dialogs || 0) + 1; d.dismiss(); });

try {
  await page.goto(url);
  await page.locator('#token-dialog[open]').waitFor();
  await page.fill('#token-input', token);
  await page.click('#token-form button[type=submit]');
  await page.locator('body[data-ready=true]').waitFor();

  // 1. A run that plots: its figure shows inline, decoded by the browser.
  await page.selectOption('#run-language', 'python');
  await page.fill('#run-wall', '120s');
  await page.fill('#run-memory', '512MiB');
  await page.fill('#run-code', [
    'import matplotlib.pyplot as plt',
    'plt.plot([1, 4, 2, 8]); plt.title("from the console")',
    'print("plotted")',
  ].join('\n'));
  await page.click('#run-button');
  await page.locator('#run-verdict .badge').waitFor();
  out.status = await page.getAttribute('#run-verdict .badge', 'data-status');
  await page.locator('#run-display img').first().waitFor();
  out.runImages = await page.locator('#run-display img').evaluateAll((imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight]));
  await shot(page, 'data-1-run');

  // 2. A data session: a DataFrame and a plot in one step.
  await page.click('nav a[data-view=sessions]');
  await page.selectOption('#session-language', 'python-data');
  await page.click('#session-create');
  await page.locator('#session-panel:not([hidden])').waitFor();
  await page.fill('#session-code', [
    'import pandas as pd, matplotlib.pyplot as plt',
    'df = pd.DataFrame({"region": ["north", "south", "north"], "sales": [10, 7, 14]})',
    'totals = df.groupby("region")["sales"].sum()',
    'totals.plot.bar(title="sales")',
  ].join('\n'));
  await page.click('#session-run');
  await page.locator('#session-transcript img').first().waitFor();
  await page.fill('#session-code', 'totals.to_frame()');
  await page.click('#session-run');
  await page.locator('#session-transcript .display-table').first().waitFor();
  out.sessionImages = await page.locator('#session-transcript img').evaluateAll((imgs) => imgs.map((i) => [i.naturalWidth, i.naturalHeight]));
  out.tableCells = await page.locator('#session-transcript .display-table td').allTextContents();
  // 3. A hostile value's HTML: its cells are text, nothing runs.
  await page.fill('#session-code', [
    'class Evil:',
    '    def _repr_html_(self): return "<table><tr><td><img src=x onerror=window.__pwned=1>cell</td></tr></table><script>window.__pwned=2</script>"',
    '    def __repr__(self): return "Evil()"',
    'Evil()',
  ].join('\n'));
  await page.click('#session-run');
  await page.locator('#session-transcript .display-table td', { hasText: 'cell' }).waitFor();
  out.hostileImgs = await page.locator('#session-transcript .display-table img').count();
  out.pwned = await page.evaluate(() => window.__pwned ?? null);
  await shot(page, 'data-2-session');
  await page.click('#session-close');
} catch (e) {
  out.error = String(e && e.stack ? e.stack : e);
  try { await shot(page, 'data-error'); } catch {}
}
await browser.close();
console.log(JSON.stringify(out));
