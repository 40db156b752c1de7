import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { DataError } from '../errors.js';
import { MetricsLog, readMetricsLog, truncateMetricsLog, type MetricsRecord } from './metrics-log.js';

const root = mkdtempSync(join(tmpdir(), 'harmonium-metrics-'));
after(() => rmSync(root, { recursive: true, force: true }));

const rec = (step: number, extras: Record<string, number> = {}): MetricsRecord => ({
  step,
  epoch: Math.floor(step / 10),
  loss: 1 / (step + 1),
  images_per_second: 1000 + step,
  ...extras,
});

function writeLog(name: string, records: MetricsRecord[]): string {
  const path = join(root, name);
  const log = new MetricsLog(path);
  for (const r of records) log.append(r);
  log.close();
  return path;
}

test('appends one JSON line per record, core fields first, and reads them back', () => {
  const path = writeLog('basic.jsonl', [rec(0, { kl: 0.5, lr: 0.01 }), rec(10), rec(20)]);
  const lines = readFileSync(path, 'utf8').split('\n');
  assert.equal(lines.length, 4);
  assert.equal(lines[3], '');
  assert.equal(lines[0], '{"step":0,"epoch":0,"loss":1,"images_per_second":1000,"kl":0.5,"lr":0.01}');
  assert.deepEqual(readMetricsLog(path), [rec(0, { kl: 0.5, lr: 0.01 }), rec(10), rec(20)]);
});

test('a non-finite loss is written as null and read back as NaN', () => {
  const path = writeLog('nan.jsonl', [{ ...rec(1), loss: NaN }]);
  assert.match(readFileSync(path, 'utf8'), /"loss":null/);
  assert.ok(Number.isNaN(readMetricsLog(path)[0]!.loss));
});

test('a truncated last line is tolerated; reopening cuts it before appending', () => {
  const path = writeLog('crash.jsonl', [rec(0), rec(1)]);
  appendFileSync(path, '{"step":2,"epoch":0,"lo');
  assert.deepEqual(
    readMetricsLog(path).map((r) => r.step),
    [0, 1],
  );
  const log = new MetricsLog(path);
  log.append(rec(2));
  log.close();
  assert.deepEqual(
    readMetricsLog(path).map((r) => r.step),
    [0, 1, 2],
  );
});

test('a corrupt middle line is a DataError naming the file and line number', () => {
  const path = join(root, 'corrupt.jsonl');
  writeFileSync(
    path,
    '{"step":0,"epoch":0,"loss":1,"images_per_second":1}\n{"step":1,"ep\n{"step":2,"epoch":0}\n',
  );
  assert.throws(
    () => readMetricsLog(path),
    (e: unknown) =>
      e instanceof DataError && e.code === 'DATA_CORRUPT' && e.message.includes(`${path}: line 2:`),
  );
  writeFileSync(path, '{"step":0.5,"epoch":0}\n');
  assert.throws(() => readMetricsLog(path), /line 1: field "step" must be an integer/);
  writeFileSync(path, '{"step":0,"epoch":0,"loss":"low"}\n');
  assert.throws(() => readMetricsLog(path), /line 1: field "loss" is not a number/);
});

test('truncateMetricsLog drops records after the resumed step and a partial line', () => {
  const path = writeLog(
    'resume.jsonl',
    [0, 10, 20, 30, 40].map((s) => rec(s)),
  );
  appendFileSync(path, '{"step":50');
  assert.equal(truncateMetricsLog(path, 20), 2);
  assert.deepEqual(
    readMetricsLog(path).map((r) => r.step),
    [0, 10, 20],
  );
  assert.ok(readFileSync(path, 'utf8').endsWith('}\n'));
  assert.equal(truncateMetricsLog(path, 100), 0);
  assert.equal(truncateMetricsLog(join(root, 'absent.jsonl'), 0), 0);
  assert.deepEqual(readMetricsLog(join(root, 'absent.jsonl')), []);
});
