/**
 * The job page in a real browser: a local 2-worker VAE job serves its page (`--http-port`), which
 * headless Chromium (Debian's, driven by playwright-core) opens while the job trains: the loss
 * curve gains points as it goes, the ranks show their heartbeats, the epoch sample pictures decode;
 * a screenshot is taken. At the end the run directory's job.html, opened from the file, shows the
 * whole curve and the pictures without the coordinator. Without Chromium the test is skipped,
 * except under CI, which installs it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';

import { readMetricsLog } from '../core/train/metrics-log.js';
import { freePort } from './free-port.js';
import { start, until } from './processes.js';

const CHROMIUM = '/usr/bin/chromium';
const SKIP =
  !existsSync(CHROMIUM) && !process.env.CI
    ? 'no Chromium at /usr/bin/chromium (apt-get install chromium); under CI this fails instead'
    : false;
/** Where the screenshots go: $HARMONIUM_SCREENSHOT_DIR (the README's comes from here), else a temporary directory. */
const tmp = mkdtempSync(join(tmpdir(), 'harmonium-job-page-'));
const SHOTS = process.env['HARMONIUM_SCREENSHOT_DIR'] ?? tmp;
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('the job page in headless Chromium', { skip: SKIP }, () => {
  it('draws a live job as it trains (curve, ranks, pictures), and its job.html after', async () => {
    const { chromium } = await import('playwright-core');
    const port = await freePort();
    const out = join(tmp, 'vae');
    const run = start([
      'train',
      ...['--model', 'vae', '--layers', '64', '--latent', '8', '--limit', '3000', '--batch-size', '60'],
      ...['--epochs', '12', '--log-every', '5', '--test-limit', '100', '--no-eval'],
      ...['--workers', '2', '--http-port', String(port), '--out', out],
    ]);
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox'] });
    try {
      const id = await until(
        'the job id',
        60_000,
        () => /job (vae-\w+): submitted/.exec(run.output())?.[1] ?? null,
      );
      const page = await browser.newPage({ viewport: { width: 1200, height: 1300 } });
      const errors: string[] = [];
      page.on('pageerror', (err) => errors.push(`the live page threw: ${err.message}`));
      // The list of jobs links to the job's page.
      await until('the page server', 30_000, async () => {
        try {
          return (await fetch(`http://127.0.0.1:${port}/`)).ok ? true : null;
        } catch {
          return null;
        }
      });
      await page.goto(`http://127.0.0.1:${port}/`);
      await Promise.all([
        page.waitForURL(`http://127.0.0.1:${port}/jobs/${id}/`),
        page.click(`a[href="/jobs/${id}/"]`),
      ]);
      // Live: the curve gains points and a sample picture arrives while the job runs.
      const points = async () => Number(await page.getAttribute('#loss-chart', 'data-points'));
      const drawn = "Number(document.querySelector('#loss-chart').getAttribute('data-points'))";
      await page.waitForFunction(`${drawn} >= 2`, null, { timeout: 60_000 });
      const early = await points();
      // Browser-side expressions as strings: this project's types have no DOM.
      const images = "[...document.querySelectorAll('#pictures img')]";
      await page.waitForFunction(`${images}.some((i) => i.complete && i.naturalWidth > 0)`, null, {
        timeout: 60_000,
      });
      await page.waitForFunction(`${drawn} > ${early}`, null, { timeout: 60_000 });
      assert.ok(run.child.exitCode === null, 'the job still runs: the page updated live');
      const ranks = await page.$$eval('#ranks tbody tr', (rows) =>
        rows.map((r) => [...r.children].map((c) => c.textContent)),
      );
      assert.deepEqual(
        ranks.map((r) => r[0]),
        ['0', '1'],
      );
      for (const r of ranks) assert.match(r[3] ?? '', /^\d+(\.\d)? s$/, 'a heartbeat age');
      assert.equal(await page.textContent('#job-state'), 'RUNNING');
      mkdirSync(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'job-page.png'), fullPage: true });

      assert.equal(await run.exit, 0, run.output());
      // After: job.html beside the outputs, drawn from the file alone.
      const html = join(out, 'job.html');
      assert.ok(existsSync(html), 'job.html in the run directory');
      const file = await browser.newPage({ viewport: { width: 1200, height: 1300 } });
      file.on('pageerror', (err) => errors.push(`job.html threw: ${err.message}`));
      await file.goto(pathToFileURL(html).href);
      assert.equal(await file.textContent('#job-state'), 'SUCCEEDED');
      const logged = readMetricsLog(join(out, 'metrics.jsonl')).filter((r) => Number.isFinite(r.loss)).length;
      assert.equal(
        Number(await file.getAttribute('#loss-chart', 'data-points')),
        logged,
        'every logged loss drawn',
      );
      await file.waitForFunction(
        `${images}.length > 0 && ${images}.every((i) => i.complete && i.naturalWidth > 0)`,
        null,
        { timeout: 10_000 },
      );
      assert.equal(await file.$$eval('#generations tbody tr', (rows) => rows.length), 1);
      assert.equal(await file.textContent('#failures tbody'), 'none', 'no worker lost');
      await file.screenshot({ path: join(SHOTS, 'job-page-final.png'), fullPage: true });
      assert.deepEqual(errors, []);
    } finally {
      await browser.close();
      if (run.child.exitCode === null) run.child.kill('SIGKILL');
    }
  });
});
