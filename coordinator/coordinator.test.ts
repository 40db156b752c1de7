/**
 * The coordinator's control loop stepped by hand with a fake clock: rendezvous, job states, the
 * pool, and elastic membership: a member lost (hung, exited), survivors re-formed from the newest
 * committed step, a worker joining and one leaving at a step boundary, --min-workers and
 * --max-failures, fencing, an evaluation handed to another worker. No network: workers are event
 * sinks.
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
import type { GenerationEnd } from './elastic-job.js';
import { Job } from './job.js';
import { testJobConfig } from './testing.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-coord-'));

const jobConfig = (out: string, workers: number, extra: Partial<JobConfig> = {}): JobConfig =>
  testJobConfig(tmp, out, workers, extra);

function harness() {
  let t = 1_000_000;
  const logs: string[] = [];
  const c = new Coordinator({ now: () => t, log: (l) => logs.push(l) });
  const inbox = new Map<string, WorkerEvent[]>();
  let pid = 100;
  const join = (id: string): void => {
    inbox.set(id, []);
    assert.ok(
      c.join(
        { id, hostname: 'host', pid: pid++, collectiveAddress: `127.0.0.1:${id.length}`, metricsAddress: '' },
        (e) => inbox.get(id)!.push(e),
      ),
    );
  };
  const advance = (ms: number): void => {
    t += ms;
    c.tick();
  };
  const last = (id: string): WorkerEvent => inbox.get(id)!.at(-1)!;
  const assignment = (id: string) => {
    const a = [...inbox.get(id)!].reverse().find((e) => e.assignment)?.assignment;
    assert.ok(a, `${id} has an assignment`);
    return a;
  };
  /** The member's report after it took the state (or after a step). */
  const ready = (id: string, jobId: string, step = 0, totalSteps = 100): void => {
    c.report({
      workerId: id,
      jobId,
      generation: assignment(id).generation!,
      step,
      totalSteps,
      imagesSeen: step * 100,
      loss: 1,
      log: [],
    });
  };
  const done = (id: string, jobId: string, end: Partial<GenerationEnd>): void =>
    c.generationDone({
      workerId: id,
      jobId,
      generation: assignment(id).generation!,
      reason: 'broken',
      step: 0,
      inProgress: false,
      detail: '',
      totals: '',
      ...end,
    });
  const beat = (...ids: string[]): void => {
    for (const id of ids) c.heartbeat(id, assignment(id).jobId!, assignment(id).generation!, 0);
  };
  return { c, inbox, join, advance, ready, done, beat, last, assignment, logs, time: () => t };
}

/** A job of `n` workers whose generation 1 trains. */
function running(n: number, extra: Partial<JobConfig> = {}, out = `run-${Math.random()}`) {
  const h = harness();
  const job = h.c.submit(jobConfig(out, n, extra));
  const ids = Array.from({ length: n }, (_, i) => `w${i}`);
  for (const id of ids) h.join(id);
  for (const id of ids) h.ready(id, job.id);
  assert.equal(job.state, 'RUNNING');
  return { ...h, job, ids };
}

describe('Coordinator', () => {
  it('forms a generation once enough workers are idle, then runs when every member holds the state', () => {
    const h = harness();
    const job = h.c.submit(jobConfig('a', 2));
    assert.equal(job.state, 'PENDING');
    h.join('w-a');
    assert.equal(job.state, 'PENDING', 'one worker is not --workers, and the rendezvous has time left');
    h.join('w-b');
    assert.equal(job.state, 'RENDEZVOUS');
    assert.equal(job.generation, 1);
    const a = h.assignment('w-a');
    const b = h.assignment('w-b');
    assert.deepEqual([a.rank, b.rank], [0, 1], 'ranks in join order');
    assert.deepEqual(a.peers, b.peers);
    assert.equal(a.worldSize, 2);
    assert.equal(a.start, 'fresh');
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

  it('starts with --min-workers once --rendezvous-timeout has passed without --workers', () => {
    const h = harness();
    const job = h.c.submit(jobConfig('min', 3, { minWorkers: 2, rendezvousTimeout: 10 }));
    h.join('w0');
    h.join('w1');
    h.advance(9000);
    assert.equal(job.state, 'PENDING');
    h.beat();
    h.c.heartbeat('w0', '', 0, 0);
    h.c.heartbeat('w1', '', 0, 0);
    h.advance(1500);
    assert.equal(job.state, 'RENDEZVOUS');
    assert.equal(h.assignment('w0').worldSize, 2);
  });

  it('a hung member is lost; the survivors re-form from the newest committed step, state from its holder', () => {
    const h = running(3);
    h.advance(2000);
    h.beat('w0', 'w2');
    h.advance(2000);
    h.beat('w0', 'w2');
    h.advance(1500);
    assert.equal(h.job.generation, 1, 'w1 silent 5.5 s... not yet past 5 s at the last tick? it is');
    assert.ok(
      h.inbox.get('w0')!.some((e) => e.endGeneration?.generation === 1),
      'survivors told to end generation 1',
    );
    assert.equal(h.job.failures, 1);
    assert.match(h.job.lastFailure, /worker w1 \(rank 1, host pid 101, .*\) sent no heartbeat for 5\.5 s/);
    // w0 had committed one step more than w2 when their group broke.
    h.done('w0', h.job.id, { step: 41, inProgress: true });
    assert.equal(h.job.generation, 1, 'waits for every survivor');
    h.done('w2', h.job.id, { step: 40 });
    assert.equal(h.job.generation, 2);
    assert.equal(h.job.state, 'RENDEZVOUS');
    const a = h.assignment('w0');
    assert.deepEqual([a.rank, a.worldSize, a.start, a.startStep, a.sourceRank], [0, 2, 'peers', 41, 0]);
    assert.equal(h.assignment('w2').rank, 1);
    h.ready('w0', h.job.id, 41);
    h.ready('w2', h.job.id, 41);
    assert.equal(h.job.state, 'RUNNING');
    const run = h.c.elastic(h.job.id)!;
    assert.equal(run.stepsRedone, 1, 'w0 was computing step 42, which nobody committed');
    assert.deepEqual(run.worldSizes, [
      { from_step: 0, workers: 3 },
      { from_step: 41, workers: 2 },
    ]);
    assert.deepEqual(
      run.failures.map((f) => [f.worker_id, f.rank, f.generation, f.step, f.reason]),
      [['w1', 1, 1, 41, 'hung']],
    );
    // w1 comes back: it is fenced out of the job and told so.
    const answer = h.c.heartbeat('w1', h.job.id, 1, 40);
    assert.equal(answer.stop, true);
    assert.match(answer.reason, /fenced/);
    assert.throws(
      () =>
        h.c.report({
          workerId: 'w1',
          jobId: h.job.id,
          generation: 1,
          step: 42,
          totalSteps: 100,
          imagesSeen: 0,
          loss: 1,
          log: [],
        }),
      (err: HarmoniumError) => err.code === 'FENCED',
    );
    assert.equal(h.c.workers.get('w1')!.jobId, null, 'back in the pool');
  });

  it('an exited member ends the generation at once; a replacement joins at the next drained boundary', () => {
    const h = running(2);
    h.c.workerExited('host', 101, 'SIGKILL');
    assert.ok(h.inbox.get('w0')!.some((e) => e.endGeneration));
    h.done('w0', h.job.id, { step: 10 });
    assert.equal(h.job.generation, 2);
    assert.equal(h.assignment('w0').worldSize, 1);
    assert.equal(h.assignment('w0').sourceRank, -1, 'the only member holds the state');
    h.ready('w0', h.job.id, 10);
    assert.equal(h.job.state, 'RUNNING');
    h.join('w9');
    h.advance(100);
    assert.ok(h.last('w0').drain, 'a drain lets the newcomer in');
    h.done('w0', h.job.id, { reason: 'drained', step: 12 });
    assert.equal(h.job.generation, 3);
    assert.deepEqual(
      ['w0', 'w9'].map((id) => [
        h.assignment(id).rank,
        h.assignment(id).startStep,
        h.assignment(id).sourceRank,
      ]),
      [
        [0, 12, 0],
        [1, 12, 0],
      ],
    );
    const run = h.c.elastic(h.job.id)!;
    assert.equal(run.stepsRedone, 0);
    assert.deepEqual(
      run.failures.map((f) => f.reason),
      ['exited'],
    );
  });

  it('a leaving member drains its generation, is released, and is not a failure', () => {
    const h = running(3);
    h.c.leaveRequest('w2', 'SIGTERM');
    for (const id of h.ids) assert.ok(h.last(id).drain, `${id} drains`);
    h.done('w0', h.job.id, { reason: 'drained', step: 7 });
    h.done('w1', h.job.id, { reason: 'drained', step: 7 });
    h.done('w2', h.job.id, { reason: 'leaving', step: 7 });
    assert.match(h.last('w2').abort!.reason!, /left job/);
    assert.equal(h.job.generation, 2);
    assert.deepEqual([h.assignment('w0').worldSize, h.assignment('w0').sourceRank], [2, -1]);
    assert.equal(h.job.failures, 0);
    assert.deepEqual(
      h.c.elastic(h.job.id)!.failures.map((f) => f.reason),
      ['left'],
    );
    assert.equal(h.c.workers.get('w2')!.leaving, true);
    assert.ok(!h.c.workers.idle().some((w) => w.id === 'w2'), 'never given work again');
  });

  it('below --min-workers the job waits --rendezvous-timeout for replacements, then fails naming the loss', () => {
    const h = running(2, { minWorkers: 2, rendezvousTimeout: 10 });
    h.c.workerExited('host', 101, 'SIGKILL');
    h.done('w0', h.job.id, { step: 5 });
    assert.equal(h.job.generation, 1, 'one worker is fewer than --min-workers 2');
    h.advance(5000);
    h.beat('w0');
    h.advance(4000);
    h.beat('w0');
    assert.equal(h.job.state, 'RUNNING');
    h.advance(1500);
    assert.equal(h.job.state, 'FAILED');
    assert.match(
      h.job.message,
      /fewer than --min-workers 2 workers for 10 s .*the last loss: worker w1 .*exited with SIGKILL/,
    );
  });

  it('a replacement within --rendezvous-timeout continues the job from the survivor', () => {
    const h = running(2, { minWorkers: 2, rendezvousTimeout: 10 });
    h.c.workerExited('host', 101, 'SIGKILL');
    h.done('w0', h.job.id, { step: 5 });
    h.advance(3000);
    h.join('w5');
    h.advance(100);
    assert.equal(h.job.generation, 2);
    assert.deepEqual(
      ['w0', 'w5'].map((id) => h.assignment(id).rank),
      [0, 1],
    );
    assert.equal(h.assignment('w5').sourceRank, 0);
  });

  it('fails after more than --max-failures losses', () => {
    const h = running(3, { maxFailures: 1 });
    h.c.workerExited('host', 102, 'SIGKILL');
    assert.notEqual(h.job.state, 'FAILED');
    h.c.workerExited('host', 101, 'SIGKILL');
    assert.equal(h.job.state, 'FAILED');
    assert.match(h.job.message, /2 workers lost, more than --max-failures 1; the last: worker w1/);
    assert.match(h.last('w0').abort!.reason!, /failed/);
  });

  it('without a member that holds the state, the job goes back to its checkpoint', () => {
    const h = running(1);
    h.c.elastic(h.job.id)!.checkpointed(20);
    h.ready('w0', h.job.id, 30);
    h.c.workerExited('host', 100, 'SIGKILL');
    h.join('w7');
    h.advance(100);
    const a = h.assignment('w7');
    assert.deepEqual([a.start, a.startStep, a.resume], ['checkpoint', 20, true]);
    assert.equal(h.c.elastic(h.job.id)!.stepsRedone, 10);
  });

  it('rank 0 evaluates when every member finished; if it is lost, an idle worker evaluates the checkpoint', async () => {
    const h = running(2, {}, 'eval');
    h.done('w1', h.job.id, { reason: 'finished', step: 100 });
    h.done('w0', h.job.id, { reason: 'finished', step: 100, totals: '{"trainSeconds":3}' });
    assert.equal(h.c.workers.get('w1')!.jobId, null, 'rank 1 is back in the pool');
    h.c.workerExited('host', 100, 'SIGKILL');
    const task = h.last('w1').evaluate!;
    assert.equal(task.jobId, h.job.id);
    assert.equal(task.totalsJson, '{"trainSeconds":3}');
    await h.c.finish('w1', h.job.id, { model: 'ae', steps: 100 }, [
      { name: 'reconstructions.png', data: Buffer.from('png') },
    ]);
    assert.equal(h.job.state, 'SUCCEEDED');
    const summary = JSON.parse(readFileSync(join(tmp, 'eval', 'summary.json'), 'utf8'));
    assert.equal(summary.generation, 1);
    assert.deepEqual(
      summary.failures.map((f: { reason: string }) => f.reason),
      ['exited'],
    );
    assert.ok(existsSync(join(tmp, 'eval', 'reconstructions.png')));
  });

  it('an evaluator that cannot send its results hands the evaluation over instead of hanging', () => {
    const h = running(2);
    h.done('w1', h.job.id, { reason: 'finished', step: 100 });
    h.done('w0', h.job.id, { reason: 'finished', step: 100 });
    h.done('w0', h.job.id, { reason: 'broken', step: 100, detail: 'Finish failed: Connection dropped' });
    assert.ok(h.last('w1').evaluate, 'an idle worker evaluates the final checkpoint');
    assert.equal(h.job.state, 'RUNNING');
  });

  it('keeps its workers in the pool between jobs, and starts the next queued job', async () => {
    const h = harness();
    const first = h.c.submit(jobConfig('d', 1));
    const second = h.c.submit(jobConfig('e', 1));
    h.join('w-a');
    assert.equal(first.state, 'RENDEZVOUS');
    assert.equal(second.state, 'PENDING');
    h.ready('w-a', first.id, 10);
    h.done('w-a', first.id, { reason: 'finished', step: 10 });
    await h.c.finish('w-a', first.id, { model: 'ae', steps: 10 }, []);
    assert.equal(first.state, 'SUCCEEDED');
    assert.equal(JSON.parse(readFileSync(join(tmp, 'd', 'summary.json'), 'utf8')).workers, 1);
    assert.equal((await h.c.waitFor(first.id)).state, 'SUCCEEDED');
    assert.equal(second.state, 'RENDEZVOUS', 'the same worker serves the next job');
    assert.equal(h.assignment('w-a').jobId, second.id);
  });

  it('runs jobs side by side on disjoint workers; a running job does not grow into workers a queued one waits for', () => {
    const h = harness();
    const a = h.c.submit(jobConfig('side-a', 3, { minWorkers: 2, rendezvousTimeout: 0 }));
    h.join('s0');
    h.join('s1');
    for (const id of ['s0', 's1']) h.ready(id, a.id);
    assert.equal(a.state, 'RUNNING');
    const b = h.c.submit(jobConfig('side-b', 2));
    h.join('s2');
    h.join('s3');
    assert.equal(b.state, 'RENDEZVOUS', 'b starts on the two newcomers');
    assert.deepEqual(
      ['s2', 's3'].map((id) => h.assignment(id).jobId),
      [b.id, b.id],
    );
    assert.equal(h.last('s0').drain, undefined, 'a did not grow into them');
    const c = h.c.submit(jobConfig('side-c', 3, { minWorkers: 3 }));
    h.join('s4');
    h.advance(1000);
    assert.equal(c.state, 'PENDING');
    assert.equal(h.inbox.get('s4')!.length, 0, 's4 stays idle for job c');
    assert.equal(h.last('s0').drain, undefined);
    h.c.cancel(c.id, 'not needed');
    h.advance(1000);
    assert.ok(h.last('s0').drain, 'with the queue empty, a grows into the idle worker');
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
    assert.equal(h.c.heartbeat('w-idle', '', 0, 0).unknown, true, 'told to join again');
  });

  it("keeps rank 0's reported pictures for the job page, refuses any that is not a PNG of a plain name, and writes job.html at the end", async () => {
    const h = running(2);
    const png = Buffer.concat([
      Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
      Buffer.alloc(16),
    ]);
    h.c.report({
      workerId: 'w0',
      jobId: h.job.id,
      generation: 1,
      step: 5,
      totalSteps: 100,
      imagesSeen: 500,
      loss: 1,
      log: [],
      pictures: [
        { name: 'samples-epoch-001.png', data: png },
        { name: '../escape.png', data: png },
        { name: 'not-a-png.png', data: Buffer.from('<svg/>') },
      ],
    });
    await h.c.settled();
    const out = h.job.config.out;
    assert.ok(existsSync(join(out, 'samples-epoch-001.png')));
    assert.ok(!existsSync(join(out, '..', 'escape.png')) && !existsSync(join(out, 'not-a-png.png')));
    assert.equal(h.logs.filter((l) => /a picture from worker w0 .* was refused/.test(l)).length, 2);
    const data = h.c.pageData(h.job.id)!;
    assert.deepEqual(data.pictures, ['samples-epoch-001.png']);
    assert.deepEqual(
      data.ranks.map((r) => [r.rank, r.worker]),
      [
        [0, 'w0'],
        [1, 'w1'],
      ],
    );
    assert.equal(data.job.state, 'RUNNING');
    assert.equal(h.c.pageData('no-such-job'), null);
    assert.deepEqual(await h.c.picture(h.job.id, 'samples-epoch-001.png'), png);
    assert.equal(await h.c.picture(h.job.id, '../summary.json'), null);
    h.c.cancel(h.job.id, 'test over');
    await h.c.settled();
    const page = readFileSync(join(out, 'job.html'), 'utf8');
    assert.match(page, /data-live="false"/);
    assert.match(page, /"state":"CANCELLED"/);
  });
});
