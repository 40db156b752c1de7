import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { test } from 'node:test';

import { isDataError } from '../data/testing.js';
import { compareRunPaths, findRuns, ROOT_RUN } from './find-runs.js';
import { aeSummary, rbmSummary, tmp, writeRun } from './testing.js';

test('finds every directory holding summary.json, at any depth, sorted by run path', async () => {
  const root = tmp();
  writeRun(root, 'deep-ae/seed2', aeSummary({ seed: 2 }));
  writeRun(root, 'deep-ae/seed1', aeSummary({ seed: 1 }));
  writeRun(root, 'deep-ae-2', aeSummary());
  writeRun(root, 'rbm/hidden/20', rbmSummary());
  writeRun(root, 'ae', aeSummary());
  mkdirSync(join(root, 'ae', 'checkpoint'));
  writeFileSync(join(root, 'ae', 'checkpoint', 'checkpoint.json'), '{}');
  const { runs, skipped } = await findRuns(root);
  assert.deepEqual(
    runs.map((r) => r.run),
    ['ae', 'deep-ae/seed1', 'deep-ae/seed2', 'deep-ae-2', 'rbm/hidden/20'],
  );
  assert.deepEqual(skipped, []);
  const seed2 = runs[2]!;
  assert.equal(seed2.dir, resolve(root, 'deep-ae', 'seed2'));
  assert.equal(seed2.summary.seed, 2);
  assert.deepEqual(seed2.pictures, aeSummary().pictures);
  assert.deepEqual(seed2.missingPictures, []);
});

test('a run inside a run, and a summary.json in the searched directory itself', async () => {
  const root = tmp();
  writeRun(root, '.', aeSummary());
  writeRun(root, 'deep-ae', aeSummary());
  writeRun(root, 'deep-ae/seed1', aeSummary());
  const { runs } = await findRuns(root);
  assert.deepEqual(
    runs.map((r) => r.run),
    [ROOT_RUN, 'deep-ae', 'deep-ae/seed1'],
  );
});

test('a broken summary.json is skipped, naming the file and what is wrong; the others are read', async () => {
  const root = tmp();
  writeRun(root, 'good', aeSummary());
  writeRun(root, 'cut', '{"model": "ae", "hyp');
  writeRun(root, 'nested/bad', JSON.stringify({ ...rbmSummary(), epochs: 'two' }));
  const { runs, skipped } = await findRuns(root);
  assert.deepEqual(
    runs.map((r) => r.run),
    ['good'],
  );
  assert.equal(skipped.length, 2);
  assert.equal(skipped[0]!.run, 'cut');
  assert.equal(skipped[0]!.path, join(root, 'cut', 'summary.json'));
  assert.match(skipped[0]!.reason, /^not valid JSON/);
  assert.deepEqual(skipped[1], {
    run: 'nested/bad',
    path: join(root, 'nested', 'bad', 'summary.json'),
    reason: 'field "epochs": expected an integer >= 0, got "two"',
  });
});

test('pictures listed but absent are kept apart; a run without pictures has none', async () => {
  const root = tmp();
  writeRun(root, 'rbm', rbmSummary(), ['samples.png', 'filters.png']);
  writeRun(root, 'plain', aeSummary({ pictures: [] }));
  const { runs } = await findRuns(root);
  assert.deepEqual(runs[0]!.pictures, []);
  assert.deepEqual(runs[1]!.pictures, ['reconstructions.png', 'latent-scatter.png', 'interpolation.png']);
  assert.deepEqual(runs[1]!.missingPictures, ['samples.png', 'filters.png']);
});

test('hidden directories, node_modules and a directory named summary.json are not runs', async () => {
  const root = tmp();
  writeRun(root, '.trash/old', aeSummary());
  writeRun(root, 'node_modules/some-package', '{"name": "not a run"}');
  mkdirSync(join(root, 'odd', 'summary.json'), { recursive: true });
  writeRun(root, 'odd/inner', aeSummary());
  const { runs, skipped } = await findRuns(root);
  assert.deepEqual(
    runs.map((r) => r.run),
    ['odd/inner'],
  );
  assert.deepEqual(skipped, []);
});

test('a directory with no runs gives none; a missing directory or a file is a DataError naming it', async () => {
  const root = tmp();
  assert.deepEqual(await findRuns(root), { runs: [], skipped: [] });
  const missing = join(root, 'nope');
  await assert.rejects(
    findRuns(missing),
    isDataError('DATA_NOT_FOUND', new RegExp(`^${missing}: no such directory`)),
  );
  writeFileSync(join(root, 'file'), 'x');
  await assert.rejects(findRuns(join(root, 'file')), isDataError('DATA_NOT_FOUND', /file: not a directory$/));
});

test('run paths order segment by segment, the searched directory first', () => {
  const paths = ['b', 'a-b', 'a/b', 'a', ROOT_RUN, 'a/b/c', 'A', '-x'];
  assert.deepEqual(paths.sort(compareRunPaths), [ROOT_RUN, '-x', 'A', 'a', 'a/b', 'a/b/c', 'a-b', 'b']);
});
