import assert from 'node:assert/strict';
import { test } from 'node:test';

import {
  formatCount,
  formatDuration,
  formatFigure,
  formatPercent,
  formatRate,
  NOT_FINITE,
} from './number-format.js';

test('durations read as seconds, minutes and seconds, hours and minutes, carrying on rounding', () => {
  assert.equal(formatDuration(0.1443870649999999), '0.14 s');
  assert.equal(formatDuration(0), '0.00 s');
  assert.equal(formatDuration(9.996), '10.0 s');
  assert.equal(formatDuration(31.04), '31.0 s');
  assert.equal(formatDuration(59.96), '1 min 00 s');
  assert.equal(formatDuration(339), '5 min 39 s');
  assert.equal(formatDuration(3599.6), '1 h 00 min');
  assert.equal(formatDuration(7500), '2 h 05 min');
  assert.equal(formatDuration(null), NOT_FINITE);
});

test('counts and rates are grouped by thousands; small rates keep a decimal', () => {
  assert.equal(formatCount(2000), '2,000');
  assert.equal(formatCount(1234567.8), '1,234,568');
  assert.equal(formatCount(-2837314), '-2,837,314');
  assert.equal(formatCount(12), '12');
  assert.equal(formatRate(13851.65631007183), '13,852');
  assert.equal(formatRate(480.4), '480');
  assert.equal(formatRate(42.46), '42.5');
  assert.equal(formatRate(0), '0.0');
  assert.equal(formatRate(null), NOT_FINITE);
});

test('figures get a precision by size: 1 decimal from 100, 2 from 1, 3 significant digits below', () => {
  assert.equal(formatFigure(88.18286329434422), '88.18');
  assert.equal(formatFigure(6.4249), '6.42');
  assert.equal(formatFigure(-414.21324288841396), '-414.2');
  assert.equal(formatFigure(449.96575), '450.0');
  assert.equal(formatFigure(0.1124781419570717), '0.112');
  assert.equal(formatFigure(0.02029463458576672), '0.0203');
  assert.equal(formatFigure(0.00001254), '1.25e-5');
  assert.equal(formatFigure(0.00001), '1e-5');
  assert.equal(formatFigure(2000), '2,000');
  assert.equal(formatFigure(0), '0');
  assert.equal(formatFigure(null), NOT_FINITE);
});

test('accuracies are percentages with one decimal', () => {
  assert.equal(formatPercent(0.682), '68.2 %');
  assert.equal(formatPercent(1), '100.0 %');
  assert.equal(formatPercent(0.7945), '79.5 %');
  assert.equal(formatPercent(null), NOT_FINITE);
});
