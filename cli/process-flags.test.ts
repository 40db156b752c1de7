/**
 * The process flags taken out of the arguments before they are parsed: `--log-format` (every
 * command) and `--http-port` (train): found wherever they stand, in both spellings, the rest left
 * in order, and a bad value refused naming the flag.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { takeHttpPortFlag } from './http-port-flag.js';
import { takeLogFormatFlag } from './log-format-flag.js';
import { harmonium } from '../test/cli-helpers.js';

test('--log-format is taken from anywhere, as two words or with =', () => {
  assert.deepEqual(takeLogFormatFlag(['node', 'h', 'train', '--log-format', 'json', '--epochs', '2']), {
    format: 'json',
    rest: ['node', 'h', 'train', '--epochs', '2'],
  });
  assert.deepEqual(takeLogFormatFlag(['train', '--log-format=text']), { format: 'text', rest: ['train'] });
  assert.deepEqual(takeLogFormatFlag(['train']), { format: null, rest: ['train'] });
});

test('a bad or missing --log-format is refused, naming the flag', () => {
  assert.throws(
    () => takeLogFormatFlag(['train', '--log-format', 'yaml']),
    /log-format: expected one of text, json, got "yaml"/,
  );
  assert.throws(() => takeLogFormatFlag(['train', '--log-format']), /log-format: needs text or json/);
  assert.throws(
    () => takeLogFormatFlag(['train', '--log-format', '--epochs']),
    /log-format: needs text or json/,
  );
});

test('--http-port is taken with its value; a bad one is refused, naming the flag', () => {
  assert.deepEqual(takeHttpPortFlag(['--model', 'ae', '--http-port', '8080', '--workers', '2']), {
    port: 8080,
    rest: ['--model', 'ae', '--workers', '2'],
  });
  assert.deepEqual(takeHttpPortFlag(['--http-port=0']), { port: 0, rest: [] });
  assert.deepEqual(takeHttpPortFlag(['--model', 'ae']), { port: 0, rest: ['--model', 'ae'] });
  for (const bad of [
    ['--http-port'],
    ['--http-port', 'x'],
    ['--http-port', '70000'],
    ['--http-port=-1'],
    ['--http-port', '1.5'],
  ])
    assert.throws(() => takeHttpPortFlag(bad), /http-port: expected a port 0-65535, got/, bad.join(' '));
});

test('harmonium train refuses --http-port without a coordinator to serve the page', () => {
  const r = harmonium(['train', '--model', 'ae', '--epochs', '1', '--http-port', '8080']);
  assert.equal(r.status, 2, r.stderr);
  assert.match(
    r.stderr,
    /http-port: the job page is served by the coordinator: train with --workers 2 or more/,
  );
});
