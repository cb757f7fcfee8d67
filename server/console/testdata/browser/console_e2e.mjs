// Drives the web console in headless Chromium (Debian's package) with
// playwright-core, as a person would: token, Run on a python snippet,
// output while it runs, verdict, redactions, files; the run in the
// history and its detail; a session step; the health view; and the page
// stays inert under hostile output. Prints one JSON object of what it
// saw; cmd/sandrun/console_test.go checks it.
//
// usage: node console_e2e.mjs URL TOKEN ARTIFACT_DIR
import { chromium } from 'playwright-core';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [url, token, artifacts] = process.argv.slice(2);
mkdirSync(artifacts, { recursive: true });
const shot = (page, name) => page.screenshot({ path: join(artifacts, name + '.png'), fullPage: true });
const T = 120_000; // generous: the machine may be busy

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
});
const out = { console: [], pageErrors: [], requests: [] };
const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
page.setDefaultTimeout(T);
page.on('console', (m) => out.console.push(`${m.type()}: ${m.text()}`));
page.on('pageerror', (e) => out.pageErrors.push(String(e)));
page.on('request', (r) => out.requests.push(r.url()));
page.on('dialog', (d) => { out.dialogs = (out.dialogs || 0) + 1; d.dismiss(); });

try {
  // 1. The page asks for the token.
  await page.goto(url);
  await page.locator('#token-dialog[open]').waitFor();
  await shot(page, '1-token');
  await page.fill('#token-input', token);
  await page.click('#token-form button[type=submit]');
  await page.locator('body[data-ready=true]').waitFor();
  out.tokenInStorage = await page.evaluate(() => sessionStorage.getItem('sandrun.token'));

  // 2. Run a python snippet: output streams before the verdict.
  await page.selectOption('#run-language', 'python');
  await page.fill('#run-code', [
    'import sys, time',
    'print("first line", flush=True)',
    'time.sleep(1.5)',
    'print("key AKIAIOSFODNN7EXAMPLQ end")',
    'print("to stderr", file=sys.stderr)',
    'open("result.txt", "w").write("file body")',
  ].join('\n'));
  await page.fill('#run-collect', '*.txt');
  await page.click('#run-button');
  await page.locator('#run-output', { hasText: 'first line' }).waitFor();
  out.verdictWhileStreaming = await page.textContent('#run-verdict');
  await page.locator('#run-verdict .badge').waitFor();
  out.output = await page.textContent('#run-output');
  out.stderrText = await page.locator('#run-output .stderr').allTextContents();
  out.marks = await page.locator('#run-output mark').allTextContents();
  out.status = await page.getAttribute('#run-verdict .badge', 'data-status');
  out.detections = await page.locator('#run-detections tbody tr').allTextContents();
  out.files = await page.locator('#run-files a').allTextContents();
  out.runId = await page.getAttribute('#run-details a[data-run-id]', 'data-run-id');
  await shot(page, '2-run');
  // The collected file downloads with its content.
  const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#run-files a')]);
  out.downloadName = dl.suggestedFilename();
  out.downloaded = readFileSync(await dl.path(), 'utf8');

  // 3. The run is in the history; its detail opens.
  await page.click('#run-details a[data-run-id]');
  const row = page.locator(`#history-table tr[data-run-id="${out.runId}"]`);
  await row.waitFor();
  out.historyRow = await row.textContent();
  await row.click();
  await page.locator('#detail-id', { hasText: out.runId }).waitFor();
  out.detail = await page.textContent('#history-detail');
  out.detailStatus = await page.getAttribute('#history-detail .badge', 'data-status');
  await shot(page, '3-history');
  // Filters: status ok and python keep it; timeout drops it.
  await page.selectOption('#history-status', 'ok');
  await page.selectOption('#history-language', 'python');
  await page.click('#history-apply');
  await row.waitFor();
  out.filteredOk = await row.count();
  await page.selectOption('#history-status', 'timeout');
  await page.click('#history-apply');
  await page.locator('#history-note', { hasText: /No runs match|run\(s\)/ }).waitFor();
  out.filteredTimeout = await row.count();

  // 4. A session: create, a step echoes its value, close.
  await page.click('nav a[data-view=sessions]');
  await page.selectOption('#session-language', 'python');
  await page.click('#session-create');
  await page.locator('#session-panel:not([hidden])').waitFor();
  await page.fill('#session-code', 'x = 20');
  await page.click('#session-run');
  await page.locator('#session-run:not([disabled])').waitFor();
  await page.fill('#session-code', 'x * 2 + 2');
  await page.click('#session-run');
  await page.locator('#session-transcript .out', { hasText: '42' }).waitFor();
  out.transcript = await page.textContent('#session-transcript');
  out.sessionRows = await page.locator('#session-table tbody tr').count();
  await shot(page, '4-sessions');
  await page.click('#session-close');
  await page.locator('#session-panel[hidden]').waitFor({ state: 'attached' });

  // 5. Health.
  await page.click('nav a[data-view=health]');
  await page.locator('#health-ready').waitFor();
  out.ready = await page.textContent('#health-ready .value');
  out.runsTotal = Number(await page.textContent('#health-runs-total .value'));
  out.auditErrors = await page.textContent('#health-audit .value');
  await shot(page, '5-health');

  // 6. Hostile output and file names stay text.
  await page.click('nav a[data-view=run]');
  await page.fill('#run-collect', '*.txt');
  await page.fill('#run-code', [
    'print("<img src=x onerror=\\"window.__pwned=1\\">")',
    'print("<script>window.__pwned=2</script>")',
    'open("<img src=y onerror=window.__pwned=3>.txt", "w").write("x")',
  ].join('\n'));
  await page.click('#run-button');
  await page.locator('#run-verdict .badge').waitFor();
  await page.locator('#run-output', { hasText: '<script>' }).waitFor();
  out.hostileOutput = await page.textContent('#run-output');
  out.hostileFiles = await page.locator('#run-files a').allTextContents();
  out.hostileImgs = await page.locator('#run-output img, #run-files img').count();
  out.pwned = await page.evaluate(() => window.__pwned ?? null);
  await shot(page, '6-hostile');
} catch (e) {
  out.error = String(e && e.stack || e);
  await shot(page, 'failure').catch(() => {});
}
await browser.close();
// Only the console's own origin was asked for anything.
const origin = new URL(url).origin;
out.foreignRequests = out.requests.filter((r) => !r.startsWith(origin) && !r.startsWith('blob:') && !r.startsWith('data:'));
delete out.requests;
process.stdout.write(JSON.stringify(out));
