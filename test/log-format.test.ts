/**
 * The log lines of a local 2-worker job as an operator reads them: by default text, each worker's
 * lines in a job prefixed by its rank (not by its launch order); with --log-format json, every line
 * of the launcher, the coordinator and both workers one JSON object, the job's lines naming their
 * job and generation, the workers' their rank too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';

import { harmonium } from './cli-helpers.js';
import { tinyJob } from './jobs.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-logs-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('log lines of a local job', () => {
  it('text: workers name their rank', () => {
    const r = harmonium(['train', ...tinyJob(join(tmp, 'text')), '--workers', '2']);
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stderr.trim().split('\n');
    assert.ok(!lines.some((l) => /^\[worker \d+\]/.test(l)), 'no launch-order prefix');
    for (const rank of [0, 1]) {
      assert.ok(
        lines.some((l) =>
          new RegExp(`^\\[rank ${rank}\\] worker \\S+: rank ${rank} of 2 in job ae-\\w+ generation 1`).test(
            l,
          ),
        ),
        `rank ${rank}'s lines are prefixed [rank ${rank}]:\n${r.stderr}`,
      );
    }
  });

  it('json: one object a line, with job, generation and rank where the line has them', () => {
    const r = harmonium(['train', ...tinyJob(join(tmp, 'json')), '--workers', '2', '--log-format', 'json']);
    assert.equal(r.status, 0, r.stderr);
    const records = r.stderr
      .trim()
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as Record<string, unknown>;
        } catch {
          return assert.fail(`not a JSON line: ${l}`);
        }
      });
    for (const rec of records) {
      assert.equal(typeof rec['msg'], 'string');
      assert.match(String(rec['time']), /^\d{4}-\d\d-\d\dT/);
      assert.ok(['cli', 'coordinator', 'worker'].includes(String(rec['role'])), JSON.stringify(rec));
    }
    const rendezvous = records.find((x) => String(x['msg']).includes('rendezvous, generation 1'));
    assert.ok(rendezvous, 'the rendezvous line');
    assert.equal(rendezvous['role'], 'coordinator');
    assert.match(String(rendezvous['job']), /^ae-\w+$/);
    assert.equal(rendezvous['generation'], 1);
    const job = rendezvous['job'];
    const started = records.filter((x) => x['role'] === 'worker' && / of 2 in job /.test(String(x['msg'])));
    assert.deepEqual(started.map((x) => x['rank']).sort(), [0, 1]);
    for (const s of started) {
      assert.equal(s['job'], job);
      assert.equal(s['generation'], 1);
      assert.equal(s['step'], 0);
    }
    assert.ok(records.some((x) => x['role'] === 'cli' && /done: wrote/.test(String(x['msg']))));
  });
});
