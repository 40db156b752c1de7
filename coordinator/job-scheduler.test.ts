/**
 * Gang scheduling, FIFO with backfill: jobs side by side on disjoint workers, a job that does not
 * fit yet lets smaller ones behind it start, until it has waited long enough to reserve the pool;
 * a job larger than the pool never blocks anyone; a gathering job holds what it has.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JobScheduler, RESERVE_AFTER_MS, type QueuedJob } from './job-scheduler.js';

const job = (id: string, minWorkers: number, workers = minWorkers, queuedAt = 0): QueuedJob => ({
  id,
  minWorkers,
  workers,
  rendezvousTimeoutMs: 30_000,
  queuedAt,
});

describe('JobScheduler', () => {
  it('starts every job that fits, each on workers of its own', () => {
    const s = new JobScheduler();
    const d = s.decide([job('a', 2), job('b', 2), job('c', 1)], 4, 4, 0);
    assert.deepEqual(d.start, [
      { id: 'a', workers: 2 },
      { id: 'b', workers: 2 },
    ]);
    assert.equal(d.waiting, true, 'c still waits');
  });

  it('lets a smaller job behind one that does not fit go first (backfill)', () => {
    const s = new JobScheduler();
    const d = s.decide([job('big', 3), job('small', 1)], 2, 4, 0);
    assert.deepEqual(d.start, [{ id: 'small', workers: 1 }]);
  });

  it('after waiting long at the head, a job reserves the pool: nothing behind it starts', () => {
    const s = new JobScheduler();
    const later = RESERVE_AFTER_MS + 1;
    assert.deepEqual(s.decide([job('big', 3), job('small', 1, 1, later)], 2, 4, later).start, []);
    assert.deepEqual(s.decide([job('big', 3), job('small', 1, 1, later)], 3, 4, later).start, [
      { id: 'big', workers: 3 },
    ]);
  });

  it('a job larger than the whole pool never blocks the others', () => {
    const s = new JobScheduler();
    const d = s.decide([job('huge', 10), job('small', 1)], 2, 4, RESERVE_AFTER_MS * 10);
    assert.deepEqual(d.start, [{ id: 'small', workers: 1 }]);
    assert.equal(d.waiting, false, 'the idle worker left may go to a running job');
  });

  it('a job gathering up to --workers holds what it has until its rendezvous timeout', () => {
    const s = new JobScheduler();
    assert.deepEqual(s.decide([job('a', 1, 3), job('b', 1)], 2, 4, 0).start, []);
    assert.deepEqual(s.decide([job('a', 1, 3), job('b', 1)], 2, 4, 29_000).start, []);
    assert.deepEqual(s.decide([job('a', 1, 3), job('b', 1)], 2, 4, 30_000).start, [{ id: 'a', workers: 2 }]);
  });
});
