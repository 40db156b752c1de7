/**
 * The coordinator's control loop stepped by hand with a fake clock: rendezvous, job states,
 * heartbeat expiry, departures, cancellation, queueing. No network: workers are event sinks.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JobConfig } from '../core/config/job-config.js';
import type { HarmoniumError } from '../core/errors.js';
import type { WorkerEvent } from '../proto/coordinator-service.js';
import { Coordinator } from './coordinator.js';
import { Job } from './job.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-coord-'));

function jobConfig(out: string, workers: number, extra: Partial<JobConfig> = {}): JobConfig {
  return {
    model: 'ae',
    out: join(tmp, out),
    workers,
    heartbeatTimeout: 10,
    collectiveTimeout: 60,
    digestEvery: 100,
    metricsPort: 0,
    resume: false,
    ...extra,
  } as JobConfig;
}

function harness() {
  let t = 1_000_000;
  const logs: string[] = [];
  const c = new Coordinator({ now: () => t, log: (l) => logs.push(l) });
  const inbox = new Map<string, WorkerEvent[]>();
  const join = (id: string): void => {
    inbox.set(id, []);
    assert.ok(
      c.join(
        { id, hostname: 'host', pid: 1, collectiveAddress: `127.0.0.1:${id.length}`, metricsAddress: '' },
        (e) => inbox.get(id)!.push(e),
      ),
    );
  };
  const advance = (ms: number): void => {
    t += ms;
    c.tick();
  };
  const ready = (id: string, jobId: string, step = 0, totalSteps = 10): void =>
    c.report({ workerId: id, jobId, step, totalSteps, imagesSeen: step * 10, loss: 1, record: null });
  return { c, inbox, join, advance, ready, logs };
}

describe('Coordinator', () => {
  it('forms a generation once enough workers are idle, then runs when every rank reported', () => {
    const h = harness();
    const job = h.c.submit(jobConfig('a', 2));
    assert.equal(job.state, 'PENDING');
    h.join('w-a');
    assert.equal(job.state, 'PENDING', 'one worker is not enough');
    h.join('w-b');
    assert.equal(job.state, 'RENDEZVOUS');
    assert.equal(job.generation, 1);
    const a = h.inbox.get('w-a')![0]!.assignment!;
    const b = h.inbox.get('w-b')![0]!.assignment!;
    assert.deepEqual([a.rank, b.rank], [0, 1], 'ranks in join order');
    assert.deepEqual(a.peers, b.peers);
    assert.equal(a.worldSize, 2);
    assert.equal(JSON.parse(a.configJson!).model, 'ae');
    h.ready('w-a', job.id);
    assert.equal(job.state, 'RENDEZVOUS');
    h.ready('w-b', job.id);
    assert.equal(job.state, 'RUNNING');
    assert.deepEqual(
      job.history.map((e) => e.state),
      ['PENDING', 'RENDEZVOUS', 'RUNNING'],
    );
  });

  it('fails the job, naming the worker, when one misses its heartbeats; the others are told to stop', () => {
    const h = harness();
    const job = h.c.submit(jobConfig('b', 2, { heartbeatTimeout: 3 }));
    h.join('w-a');
    h.join('w-b');
    h.ready('w-a', job.id);
    h.ready('w-b', job.id);
    h.advance(2000);
    h.c.heartbeat('w-a', 1);
    h.advance(500);
    assert.equal(job.state, 'RUNNING', 'w-b has been silent 2.5 s; the timeout is 3 s');
    h.advance(1000);
    assert.equal(job.state, 'FAILED');
    assert.match(job.message, /worker w-b \(rank 1, host pid 1, .*\) sent no heartbeat for 3\.5 s/);
    assert.ok(h.inbox.get('w-a')!.some((e) => e.abort?.reason?.includes('failed')));
    assert.deepEqual(h.c.heartbeat('w-a', 2), { stop: true, reason: `job ${job.id} failed: ${job.message}` });
  });

  it('fails the job at once when a worker leaves before its last step, not after it', () => {
    const h = harness();
    const job = h.c.submit(jobConfig('c', 2));
    h.join('w-a');
    h.join('w-b');
    h.ready('w-a', job.id, 10);
    h.ready('w-b', job.id, 10);
    h.c.leave('w-b');
    assert.equal(job.state, 'RUNNING', 'rank 1 finished all 10 steps: leaving is clean');
    h.c.leave('w-a');
    assert.equal(job.state, 'FAILED', 'rank 0 left before writing the results');
    assert.match(job.message, /worker w-a \(rank 0.*disconnected/);
  });

  it('succeeds when rank 0 hands over its results, and starts the next queued job', async () => {
    const h = harness();
    const first = h.c.submit(jobConfig('d', 1));
    const second = h.c.submit(jobConfig('e', 1));
    h.join('w-a');
    assert.equal(first.state, 'RENDEZVOUS');
    assert.equal(second.state, 'PENDING');
    h.ready('w-a', first.id, 10);
    await h.c.finish('w-a', first.id, { model: 'ae', steps: 10 }, [
      { name: 'reconstructions.png', data: Buffer.from('png') },
    ]);
    assert.equal(first.state, 'SUCCEEDED');
    const summary = JSON.parse(readFileSync(join(tmp, 'd', 'summary.json'), 'utf8'));
    assert.equal(summary.workers, 1);
    assert.ok(existsSync(join(tmp, 'd', 'reconstructions.png')));
    assert.equal((await h.c.waitFor(first.id)).state, 'SUCCEEDED');
    // The worker exits after its job; a fresh one takes the next.
    h.c.leave('w-a');
    h.join('w-b');
    assert.equal(second.state, 'RENDEZVOUS');
  });

  it('cancels a job and refuses unknown jobs and impossible transitions', () => {
    const h = harness();
    const job = h.c.submit(jobConfig('f', 3));
    h.c.cancel(job.id, 'no longer needed');
    assert.equal(job.state, 'CANCELLED');
    assert.equal(job.message, 'no longer needed');
    assert.throws(() => h.c.job('nope'), /no job nope/);
    assert.throws(
      () => job.transition('RUNNING', 'test', 0),
      (err: HarmoniumError) => err.code === 'JOB_FAILED' && /CANCELLED to RUNNING/.test(err.message),
    );
    const fresh = new Job('j', jobConfig('g', 1), 0);
    assert.throws(() => fresh.transition('SUCCEEDED', 'skip', 0), /PENDING to SUCCEEDED/);
  });

  it('refuses to queue a resume without a checkpoint, and drops idle workers that stop beating', () => {
    const h = harness();
    assert.throws(
      () => h.c.submit(jobConfig('h', 1, { resume: true })),
      (err: HarmoniumError) =>
        err.code === 'CONFIG_INVALID' && /no checkpoint at .*h\/checkpoint/.test(err.message),
    );
    h.join('w-idle');
    h.advance(11_000);
    assert.equal(h.c.workers.all().length, 0);
  });
});
