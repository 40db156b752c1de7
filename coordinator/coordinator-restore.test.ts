/**
 * A coordinator taking up the jobs another left in the control store, stepped by hand with a fake
 * clock (the in-memory store behind the JetStream one's interface): its workers join again where
 * they stand and the job goes on in the same generation; a worker that does not come back within
 * the adopt grace is lost and the job re-forms from the others; one that comes back without the
 * job is released; and the coordinator that was replaced can no longer write.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { JobConfig } from '../core/config/job-config.js';
import { MemoryControlStore } from '../core/control-plane/memory-control-store.js';
import type { ClusterError } from '../core/errors.js';
import type { WorkerEvent } from '../proto/coordinator-service.js';
import { Coordinator } from './coordinator.js';
import { JobJournal } from './job-journal.js';
import { parseJobRecord } from './job-record.js';
import { testJobConfig } from './testing.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-restore-'));

const config = (out: string, workers: number): JobConfig => testJobConfig(tmp, out, workers);

function world() {
  let t = 1_000_000;
  const store = new MemoryControlStore();
  const inbox = new Map<string, WorkerEvent[]>();
  const deposed: ClusterError[] = [];
  const coordinator = async (): Promise<{ c: Coordinator; journal: JobJournal }> => {
    const journal = new JobJournal(store, { log: () => undefined, onDeposed: (e) => deposed.push(e) });
    const loaded = await store.loadJobs();
    for (const r of loaded) journal.loaded(r.key, r.value, r.revision);
    const c = new Coordinator({ now: () => t, log: () => undefined, journal, adoptGraceMs: 10_000 });
    c.restore(loaded.map((r) => parseJobRecord(r.value, r.key)));
    return { c, journal };
  };
  const join = (c: Coordinator, id: string, placement?: Parameters<Coordinator['join']>[0]['placement']) => {
    inbox.set(id, inbox.get(id) ?? []);
    return c.join(
      {
        id,
        hostname: 'host',
        pid: Number(id.slice(1)) + 100,
        collectiveAddress: `127.0.0.1:${id}`,
        metricsAddress: '',
        ...(placement ? { placement } : {}),
      },
      (e) => inbox.get(id)!.push(e),
    );
  };
  const advance = (c: Coordinator, ms: number): void => {
    t += ms;
    c.tick();
  };
  return { store, inbox, deposed, coordinator, join, advance };
}

/** A 3-worker job whose generation 1 trains at step 20 on the first coordinator, then stored. */
async function trainingJob(w: ReturnType<typeof world>, out: string, ids = ['w0', 'w1', 'w2']) {
  const first = await w.coordinator();
  const job = first.c.submit(config(out, 3));
  for (const id of ids) assert.ok(w.join(first.c, id));
  for (const id of ids) {
    first.c.report({
      workerId: id,
      jobId: job.id,
      generation: 1,
      step: 20,
      totalSteps: 100,
      imagesSeen: 0,
      loss: 1,
      log: [],
    });
  }
  assert.equal(job.state, 'RUNNING');
  await first.c.persisted();
  return { first, jobId: job.id };
}

describe('Coordinator.restore', () => {
  it('takes a running job up: its workers join again as the members they are, and the generation goes on', async () => {
    const w = world();
    const { jobId } = await trainingJob(w, 'adopt');
    const { c } = await w.coordinator();
    const job = c.job(jobId);
    assert.equal(job.state, 'RUNNING');
    assert.equal(job.generation, 1);
    for (const [rank, id] of ['w0', 'w1', 'w2'].entries()) {
      assert.ok(w.join(c, id, { jobId, generation: 1, rank, step: 25 }));
    }
    for (let i = 0; i < 10; i++) {
      for (const id of ['w0', 'w1', 'w2']) c.heartbeat(id, jobId, 1, 25 + i);
      w.advance(c, 2000);
    }
    assert.equal(job.generation, 1, 'nobody re-formed it');
    assert.equal(job.failures, 0);
    assert.deepEqual(
      c.elastic(jobId)!.memberList.map((m) => m.id),
      ['w0', 'w1', 'w2'],
    );
    assert.equal(c.heartbeat('w1', jobId, 1, 26).stop, false);
  });

  it('workers that do not come back within the grace are lost, and the job re-forms from the one that did', async () => {
    const w = world();
    const { jobId } = await trainingJob(w, 'grace');
    const { c } = await w.coordinator();
    w.inbox.set('w0', []);
    // w0 heartbeats (its calls reach the new coordinator) but its Join stream is not back yet.
    for (let i = 0; i < 4; i++) {
      c.heartbeat('w0', jobId, 1, 30);
      w.advance(c, 2000);
    }
    assert.equal(w.inbox.get('w0')!.length, 0, 'nothing reached w0 without a stream');
    assert.ok(w.join(c, 'w0', { jobId, generation: 1, rank: 0, step: 30 }));
    for (let i = 0; i < 2; i++) {
      c.heartbeat('w0', jobId, 1, 30);
      w.advance(c, 2000);
    }
    const job = c.job(jobId);
    assert.equal(job.failures, 2, 'w1 and w2 never came back');
    assert.ok(
      w.inbox.get('w0')!.some((e) => e.endGeneration?.generation === 1),
      'w0 was told to end generation 1',
    );
    c.generationDone({
      workerId: 'w0',
      jobId,
      generation: 1,
      reason: 'broken',
      step: 30,
      inProgress: false,
      detail: '',
      totals: '',
    });
    const next = w.inbox.get('w0')!.at(-1)!.assignment;
    assert.ok(next, 'w0 is assigned the next generation');
    assert.equal(next.generation, 2);
    assert.equal(next.start, 'peers');
    assert.equal(next.startStep, 30);
  });

  it('a worker that came back without the job is released; the replaced coordinator cannot write', async () => {
    const w = world();
    const { first, jobId } = await trainingJob(w, 'fence');
    const { c } = await w.coordinator();
    assert.ok(w.join(c, 'w2', { jobId: '', generation: 0, rank: -1, step: 0 }));
    await c.persisted();
    assert.equal(c.job(jobId).failures, 1);
    first.c.cancel(jobId, 'the old coordinator woke up');
    await first.c.persisted();
    assert.equal(w.deposed.length, 1, 'the old journal was fenced');
    const stored = parseJobRecord((await w.store.loadJobs()).find((r) => r.key === jobId)!.value, jobId);
    assert.equal(
      stored.job.history.at(-1)!.state,
      'RUNNING',
      'the cancel of the old coordinator did not land',
    );
  });

  it('a job whose directory is damaged fails alone; the coordinator takes up the rest', async () => {
    const w = world();
    const { jobId } = await trainingJob(w, 'damaged');
    const other = await trainingJob(w, 'intact', ['w3', 'w4', 'w5']);
    writeFileSync(join(tmp, 'damaged', '.recorded-step'), '');
    const { c } = await w.coordinator();
    assert.equal(c.job(jobId).state, 'FAILED');
    assert.match(c.job(jobId).message, /could not be taken up.*\.recorded-step: not a step number/);
    assert.equal(c.job(other.jobId).state, 'RUNNING');
  });
});
