import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';

import { findRuns } from './find-runs.js';
import { renderMarkdown } from './markdown-report.js';
import { aeSummary, markdownRowCells, rbmSummary, tmp, writeRun } from './testing.js';

/** The table of a Markdown report: header cells and row cells (escapes read back). */
function table(md: string): { header: string[]; rows: string[][] } {
  const lines = md.split('\n').filter((l) => l.startsWith('| '));
  const [header, align, ...rows] = lines.map(markdownRowCells);
  assert.ok(header && align, 'a header and an alignment row');
  assert.equal(align.length, header.length);
  for (const r of rows) assert.equal(r.length, header.length, `row ${r[0]} has ${r.length} cells`);
  return { header, rows };
}

function cell(t: { header: string[]; rows: string[][] }, row: number, column: string): string {
  const i = t.header.indexOf(column);
  assert.ok(i >= 0, `no column ${column} in ${t.header.join(', ')}`);
  return t.rows[row]![i]!;
}

test('one row per run with its options, training figures and the union of the test figures', async () => {
  const root = tmp();
  writeRun(root, 'ae-small', aeSummary());
  writeRun(root, 'rbm20', rbmSummary());
  writeRun(
    root,
    'vae',
    aeSummary({
      model: 'vae',
      hyper: { layers: [512], latent: 20, decoder: 'bernoulli' },
      test: { sse_per_image: 11.09, neg_elbo_nats: 246.5, kl_nats: 16.8, probe_accuracy: 0.752 },
    }),
  );
  const { runs } = await findRuns(root);
  const md = renderMarkdown(runs, { outDir: root, runsDir: root });
  assert.ok(md.startsWith('# Harmonium runs\n\n3 runs under `.`. '), md.slice(0, 80));
  const t = table(md);
  assert.deepEqual(t.header, [
    'run',
    'model',
    'data',
    'options',
    'epochs',
    'images/epoch',
    'batch',
    'seed',
    'workers',
    'backend',
    'train time',
    'images/s',
    '`sse_per_image`',
    '`pca_sse_per_image`',
    '`probe_accuracy`',
    '`raw_probe_accuracy`',
    '`neg_elbo_nats`',
    '`kl_nats`',
    '`pseudo_log_likelihood`',
    '`log_likelihood_nats`',
    '`log_partition`',
    '`mse_per_pixel`',
    '`pca_fit_images`',
    '`pca_mse_per_pixel`',
    '`reconstruction_loss`',
    'pictures',
  ]);
  assert.deepEqual(t.rows[0]!.slice(0, 18), [
    '[ae-small](ae-small/summary.json)',
    'ae',
    'Fashion-MNIST',
    '`--layers 64,16 --activation sigmoid --code-activation linear --no-tied --loss cross-entropy`',
    '1',
    '2,000',
    '100',
    '1',
    '1',
    'native (2 threads)',
    '0.14 s',
    '13,852',
    '88.18',
    '15.91',
    '68.2 %',
    '81.4 %',
    '–',
    '–',
  ]);
  assert.equal(cell(t, 1, '`log_likelihood_nats`'), '-414.2');
  assert.equal(cell(t, 1, '`reconstruction_loss`'), '–');
  assert.equal(cell(t, 2, '`neg_elbo_nats`'), '246.5');
  assert.equal(cell(t, 2, '`pca_sse_per_image`'), '–');
  assert.equal(
    cell(t, 1, 'pictures'),
    '[reconstructions](rbm20/reconstructions.png) [samples](rbm20/samples.png) [filters](rbm20/filters.png) ' +
      '[latent-scatter](rbm20/latent-scatter.png) [interpolation](rbm20/interpolation.png)',
  );
  assert.ok(!t.header.includes('notes'), 'no notes column when no run has a note');
});

test('notes: resumed runs, runs without a test block, pictures that are missing', async () => {
  const root = tmp();
  writeRun(root, 'a', aeSummary({ resumed_from_step: 1200 }));
  writeRun(root, 'b', aeSummary({ test: null }), ['filters.png']);
  writeRun(root, 'c', aeSummary({ threads: null }));
  const { runs } = await findRuns(root);
  const t = table(renderMarkdown(runs, { outDir: root }));
  assert.equal(cell(t, 0, 'notes'), 'resumed from step 1,200');
  assert.equal(cell(t, 1, 'notes'), 'not evaluated; missing pictures: filters.png');
  assert.equal(cell(t, 1, '`sse_per_image`'), '–');
  assert.equal(cell(t, 2, 'notes'), '');
  assert.equal(cell(t, 2, 'backend'), 'native');
});

test('runs without pictures: no pictures column when none has any, an empty cell otherwise', async () => {
  const root = tmp();
  writeRun(root, 'plain', aeSummary({ pictures: [] }));
  let t = table(renderMarkdown((await findRuns(root)).runs, { outDir: root }));
  assert.ok(!t.header.includes('pictures'));
  writeRun(root, 'shown', aeSummary());
  t = table(renderMarkdown((await findRuns(root)).runs, { outDir: root }));
  assert.equal(cell(t, 0, 'pictures'), '');
  assert.match(cell(t, 1, 'pictures'), /^\[reconstructions\]\(shown\/reconstructions\.png\)/);
});

test('strings from the files are escaped: pipes, newlines, Markdown and HTML syntax', async () => {
  const root = tmp();
  writeRun(
    root,
    'odd|run',
    aeSummary({
      model: 'ae|<b>x</b>',
      dataset: 'images:/data/*cats*|[dogs](http://x)\nsecond line',
      hyper: { note: 'a|b', 'odd key': '`tick`' },
      test: { 'weird|key': 1.5, sse_per_image: 3 },
      pictures: ['a b(1).png'],
    }),
  );
  const { runs } = await findRuns(root);
  const md = renderMarkdown(runs, { outDir: root, title: 'Runs | *mine*' });
  assert.ok(md.startsWith('# Runs \\| \\*mine\\*\n'));
  const t = table(md);
  assert.equal(cell(t, 0, 'run'), '[odd|run](odd%7Crun/summary.json)');
  assert.equal(cell(t, 0, 'model'), 'ae|\\<b>x\\</b>');
  assert.equal(cell(t, 0, 'data'), 'images:/data/\\*cats\\*|\\[dogs\\](http://x) second line');
  assert.equal(cell(t, 0, 'options'), "--note 'a|b' '--odd key' '\\`tick\\`'");
  assert.ok(t.header.includes('`weird|key`'));
  assert.equal(cell(t, 0, 'pictures'), '[a b(1)](odd%7Crun/a%20b%281%29.png)');
  assert.equal(md.split('\n').filter((l) => l.startsWith('| ')).length, 3, 'the newline did not end the row');
});

test('the same runs give the same bytes, in whatever order they come', async () => {
  const root = tmp();
  for (const name of ['z', 'a', 'm/b', 'm/a']) writeRun(root, name, aeSummary());
  const { runs } = await findRuns(root);
  const opts = { outDir: join(root, 'out'), runsDir: root };
  const md = renderMarkdown(runs, opts);
  assert.equal(renderMarkdown([...runs].reverse(), opts), md);
  assert.deepEqual(
    table(md).rows.map((r) => r[0]),
    [
      '[a](../a/summary.json)',
      '[m/a](../m/a/summary.json)',
      '[m/b](../m/b/summary.json)',
      '[z](../z/summary.json)',
    ],
  );
});

test('skipped files are listed under the table with the reason', async () => {
  const root = tmp();
  writeRun(root, 'good', aeSummary());
  writeRun(root, 'bad', JSON.stringify({ ...aeSummary(), workers: 'all' }));
  const { runs, skipped } = await findRuns(root);
  const md = renderMarkdown(runs, { outDir: root, runsDir: root, skipped });
  assert.match(md, /^1 run under `\.`, 1 skipped \(listed below\)\./m);
  assert.ok(
    md.endsWith(
      '\n## Skipped\n\n- [bad](bad/summary.json): field "workers": expected an integer >= 1, got "all"\n',
    ),
    md,
  );
});
