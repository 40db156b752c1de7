import assert from 'node:assert/strict';
import { test } from 'node:test';

import { formatLogLine, parseLogFormat } from './log.js';

const AT = new Date('2026-12-08T01:02:03.456Z');

test('text lines are the line, a worker in a job prefixed by its rank', () => {
  assert.equal(
    formatLogLine('text', 'coordinator', 'job j: running', { job: 'j', generation: 2 }),
    'job j: running',
  );
  assert.equal(formatLogLine('text', 'worker', 'worker w: joined', { worker: 'w' }), 'worker w: joined');
  assert.equal(
    formatLogLine('text', 'worker', 'worker w: rank 1 of 2', { job: 'j', rank: 1, generation: 3, step: 40 }),
    '[rank 1] worker w: rank 1 of 2',
  );
});

test('a JSON line is one object: time, level, role, pid, the fields, then the message', () => {
  const line = formatLogLine(
    'json',
    'worker',
    'a "quoted"\nline',
    { job: 'j', rank: 0, generation: 1, step: 7 },
    'warn',
    AT,
  );
  assert.ok(!line.includes('\n'), 'one line');
  assert.deepEqual(JSON.parse(line), {
    time: '2026-12-08T01:02:03.456Z',
    level: 'warn',
    role: 'worker',
    pid: process.pid,
    job: 'j',
    rank: 0,
    generation: 1,
    step: 7,
    msg: 'a "quoted"\nline',
  });
});

test('a format other than text or json is refused, naming the field', () => {
  assert.equal(parseLogFormat('json'), 'json');
  assert.throws(() => parseLogFormat('yaml'), /log-format: expected one of text, json, got "yaml"/);
});
