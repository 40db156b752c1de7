import assert from 'node:assert/strict';
import { test } from 'node:test';

import { relativeHref } from './relative-href.js';

test('links are relative, slash-separated and percent-encoded part by part', () => {
  assert.equal(relativeHref('/r', '/r/ae/summary.json'), 'ae/summary.json');
  assert.equal(relativeHref('/r/reports/w1', '/r/runs/ae/filters.png'), '../../runs/ae/filters.png');
  assert.equal(relativeHref('/r', '/r'), '.');
  assert.equal(relativeHref('/r', "/r/a b/(x)|'y'*!#?%.png"), 'a%20b/%28x%29%7C%27y%27%2A%21%23%3F%25.png');
});
