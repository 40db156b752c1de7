import assert from 'node:assert/strict';
import { test } from 'node:test';

import { parseFlags } from '../config/job-config.js';
import { hyperFlags, shellWord } from './hyper-flags.js';
import { aeSummary, rbmSummary } from './testing.js';

test("a run's hyperparameters read back as the flags that set them, in the file's order", () => {
  assert.equal(
    hyperFlags(aeSummary().hyper),
    '--layers 64,16 --activation sigmoid --code-activation linear --no-tied --loss cross-entropy',
  );
  assert.equal(
    hyperFlags(rbmSummary({ hyper: { hidden: 20, persistent: true, 'weight-decay': 0.0002 } }).hyper),
    '--hidden 20 --persistent --weight-decay 0.0002',
  );
  assert.equal(hyperFlags({}), '');
});

test('the flags parse back to the same values with the CLI parser', () => {
  const flags = parseFlags(hyperFlags(aeSummary().hyper).split(' '));
  assert.deepEqual(Object.fromEntries(flags), {
    layers: '64,16',
    activation: 'sigmoid',
    'code-activation': 'linear',
    tied: 'false',
    loss: 'cross-entropy',
  });
});

test('odd strings are single-quoted shell words', () => {
  assert.equal(shellWord('cross-entropy'), 'cross-entropy');
  assert.equal(shellWord('a b'), "'a b'");
  assert.equal(shellWord("it's"), `'it'\\''s'`);
  assert.equal(shellWord(''), "''");
  assert.equal(hyperFlags({ note: 'a|b', nested: { x: 1 } }), `--note 'a|b' --nested '{"x":1}'`);
});
