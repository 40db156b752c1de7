/**
 * A client in another language: docs/examples/submit_job.py (Python, grpcio, stubs generated from
 * the .proto with grpc_tools) submits a job of plain JSON options to a real coordinator with a real
 * worker and follows it to SUCCEEDED, over mutual TLS with the cluster's token; an unknown option
 * comes back as INVALID_ARGUMENT with the CLI's message, and a wrong token as UNAUTHENTICATED. No
 * Harmonium code runs on the client's side.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { REPO, readJson } from './cli-helpers.js';
import { TINY_JOB_OPTIONS } from './jobs.js';
import { Cluster } from './processes.js';

/** Debian's python3, where python3-grpcio and python3-grpc-tools install. */
const PYTHON = '/usr/bin/python3';
const SCRIPT = join(REPO, 'docs', 'examples', 'submit_job.py');
const available = spawnSync(PYTHON, ['-c', 'import grpc, grpc_tools']).status === 0;
// CI installs them: there the test must run, never skip.
const skip = available || process.env['CI'] ? false : 'python3-grpcio / python3-grpc-tools are not installed';

function python(
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(PYTHON, [SCRIPT, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, HARMONIUM_TOKEN: '', HARMONIUM_TOKEN_FILE: '', ...env },
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    child.once('exit', (code) => resolve({ code, output }));
  });
}

describe('a Python grpcio client', { skip }, () => {
  it('submits plain JSON options and follows the job to SUCCEEDED; a bad option is INVALID_ARGUMENT', async () => {
    const runs = mkdtempSync(join(tmpdir(), 'harmonium-python-'));
    const cluster = await Cluster.start(runs);
    try {
      await cluster.addWorker();
      const tls = { HARMONIUM_TLS_DIR: cluster.tlsDir! };
      const ok = await python([cluster.address, JSON.stringify(TINY_JOB_OPTIONS), 'from-python'], tls);
      assert.equal(ok.code, 0, ok.output);
      assert.match(ok.output, /submitted job from-python \((PENDING|RENDEZVOUS)\)/);
      assert.match(ok.output, /job from-python: SUCCEEDED step 5\/5/);
      assert.equal(readJson(join(runs, 'ae', 'summary.json'))['steps'], 5);
      const bad = await python([cluster.address, JSON.stringify({ model: 'ae', epocs: 1 })], tls);
      assert.equal(bad.code, 2, bad.output);
      assert.match(bad.output, /refused: INVALID_ARGUMENT: \[CONFIG_INVALID\] epocs: .*did you mean epochs/);
      const stranger = await python([cluster.address, JSON.stringify(TINY_JOB_OPTIONS)], {
        ...tls,
        HARMONIUM_TOKEN: 'z'.repeat(43),
      });
      assert.equal(stranger.code, 2, stranger.output);
      assert.match(stranger.output, /refused: UNAUTHENTICATED: \[UNAUTHENTICATED\]/);
    } finally {
      await cluster.stop();
    }
  });
});
