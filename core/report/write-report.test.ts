import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';

import { isDataError } from '../data/testing.js';
import { reportPaths, writeReport } from './write-report.js';
import { aeSummary, markdownRowCells, rbmSummary, tmp, writeRun } from './testing.js';

function runsTree(): string {
  const root = tmp();
  writeRun(root, 'runs/ae', aeSummary());
  writeRun(
    root,
    'runs/deep-ae/seed1',
    aeSummary({ hyper: { layers: [1000, 500, 250, 30], activation: 'relu' } }),
  );
  writeRun(root, 'runs/deep-ae/seed2', aeSummary({ seed: 2, resumed_from_step: 600 }));
  writeRun(root, 'runs/rbm20', rbmSummary(), ['samples.png']);
  writeRun(root, 'runs/plain', rbmSummary({ pictures: [] }));
  writeRun(root, 'runs/broken', '{"model": "rbm"}');
  return root;
}

test('writes DIR/REPORT.md and DIR/REPORT.html by default, atomically, and says what it left out', async () => {
  const root = runsTree();
  const dir = join(root, 'runs');
  const r = await writeReport(dir);
  assert.deepEqual(r.paths, { markdown: join(dir, 'REPORT.md'), html: join(dir, 'REPORT.html') });
  assert.equal(readFileSync(r.paths.markdown, 'utf8'), r.markdown);
  assert.equal(readFileSync(r.paths.html, 'utf8'), r.html);
  assert.equal(r.runs, 5);
  assert.deepEqual(
    r.skipped.map((s) => s.run),
    ['broken'],
  );
  assert.deepEqual(r.warnings, [
    `${join(dir, 'broken', 'summary.json')}: field "hyper": expected an object of hyperparameters, got nothing (skipped)`,
    `${join(dir, 'rbm20', 'samples.png')}: listed in summary.json but not found`,
  ]);
  assert.deepEqual(
    readdirSync(dir).filter((f) => !f.startsWith('.') || f.includes('tmp')),
    ['REPORT.html', 'REPORT.md', 'ae', 'broken', 'deep-ae', 'plain', 'rbm20'],
  );
  const runLinks = [...r.markdown.matchAll(/^\| \[([^\]]+)\]\(([^)]+)\)/gm)].map((m) => `${m[1]} ${m[2]}`);
  assert.deepEqual(runLinks, [
    'ae ae/summary.json',
    'deep-ae/seed1 deep-ae/seed1/summary.json',
    'deep-ae/seed2 deep-ae/seed2/summary.json',
    'plain plain/summary.json',
    'rbm20 rbm20/summary.json',
  ]);
  assert.match(r.markdown, /\| `--layers 1000,500,250,30 --activation relu` \|/);
  assert.match(r.markdown, /\| resumed from step 600 \|/);
  assert.match(r.markdown, /\| missing pictures: samples.png \|\n/);
  assert.match(r.markdown, /\n## Skipped\n\n- \[broken\]\(broken\/summary.json\): field "hyper"/);
  assert.match(r.html, /<li><a href="broken\/summary.json">broken<\/a>: field &quot;hyper&quot;/);
});

test('links are relative to the report when it is written to another directory', async () => {
  const root = runsTree();
  const out = join(root, 'reports', 'week1', 'compare.md');
  const r = await writeReport(join(root, 'runs'), out);
  assert.deepEqual(r.paths, { markdown: out, html: join(root, 'reports', 'week1', 'compare.html') });
  assert.match(r.markdown, /^5 runs under `\.\.\/\.\.\/runs`, 1 skipped/m);
  assert.match(r.markdown, /\| \[ae\]\(\.\.\/\.\.\/runs\/ae\/summary\.json\) \|/);
  assert.match(r.markdown, /\[reconstructions\]\(\.\.\/\.\.\/runs\/rbm20\/reconstructions\.png\)/);
  assert.match(r.html, /<img src="\.\.\/\.\.\/runs\/deep-ae\/seed1\/filters\.png"/);
  assert.match(r.html, /<a href="\.\.\/\.\.\/runs\/broken\/summary\.json">broken<\/a>/);
  for (const m of r.html.matchAll(/(?:src|href)="([^"]+)"/g)) {
    assert.ok(m[1]!.startsWith('../../runs/'), m[1]);
  }
});

test('the same runs give the same bytes, wherever the tree is and however often', async () => {
  const a = runsTree();
  const b = runsTree();
  const first = await writeReport(join(a, 'runs'));
  const again = await writeReport(join(a, 'runs'));
  const elsewhere = await writeReport(join(b, 'runs'));
  assert.equal(again.markdown, first.markdown);
  assert.equal(again.html, first.html);
  assert.equal(elsewhere.markdown, first.markdown);
  assert.equal(elsewhere.html, first.html);
  assert.equal(again.runs, 5, 'the report files are not runs');
});

test('FILE may carry an extension or name a directory', async () => {
  const root = tmp();
  mkdirSync(join(root, 'existing'));
  assert.deepEqual(await reportPaths('runs', join(root, 'r.html')), {
    markdown: join(root, 'r.md'),
    html: join(root, 'r.html'),
  });
  assert.deepEqual(await reportPaths('runs', join(root, 'r')), {
    markdown: join(root, 'r.md'),
    html: join(root, 'r.html'),
  });
  assert.deepEqual(await reportPaths('runs', join(root, 'existing')), {
    markdown: join(root, 'existing', 'REPORT.md'),
    html: join(root, 'existing', 'REPORT.html'),
  });
  assert.deepEqual(await reportPaths('runs'), {
    markdown: join('runs', 'REPORT.md'),
    html: join('runs', 'REPORT.html'),
  });
});

test('a directory without any summary.json is an error; one with only broken ones still gets a report', async () => {
  const root = tmp();
  await assert.rejects(writeReport(root), isDataError('DATA_NOT_FOUND', /no summary.json in it or below it/));
  await assert.rejects(
    writeReport(join(root, 'missing')),
    isDataError('DATA_NOT_FOUND', /no such directory/),
  );
  writeRun(root, 'bad', '{');
  const r = await writeReport(root);
  assert.equal(r.runs, 0);
  assert.equal(r.skipped.length, 1);
  assert.match(r.markdown, /^0 runs under `\.`, 1 skipped/m);
});

test('--figures picks the test columns and their order; a figure no run has is warned about', async () => {
  const root = runsTree();
  const r = await writeReport(join(root, 'runs'), undefined, {
    figures: ['probe_accuracy', 'sse_per_image', 'fid'],
  });
  const header = r.markdown.split('\n').find((l) => l.startsWith('| run |'))!;
  const cells = markdownRowCells(header);
  const at = cells.indexOf('`probe_accuracy`');
  assert.deepEqual(cells.slice(at, at + 3), ['`probe_accuracy`', '`sse_per_image`', '`fid`']);
  assert.ok(!cells.includes('`pca_sse_per_image`'), header);
  assert.deepEqual(
    r.warnings.filter((w) => w.startsWith('--figures')),
    ['--figures: no run has the test figure "fid"'],
  );
});

test('of the sample grids drawn after each epoch, only the last is shown', async () => {
  const root = tmp();
  const grids = ['samples-epoch-001.png', 'samples-epoch-002.png', 'samples-epoch-010.png'];
  writeRun(root, 'runs/gan', rbmSummary({ model: 'gan', pictures: [...grids, 'samples.png'] }));
  const r = await writeReport(join(root, 'runs'));
  assert.match(r.markdown, /\[samples-epoch-010\]\(gan\/samples-epoch-010\.png\)/);
  assert.doesNotMatch(r.markdown, /samples-epoch-00[12]/);
  assert.match(r.markdown, /\[samples\]\(gan\/samples\.png\)/);
});
