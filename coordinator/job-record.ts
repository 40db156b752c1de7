/**
 * The record a coordinator keeps of one job in its control store: the job, its membership while it
 * runs, and the workers that membership names. A coordinator that starts on the same store takes
 * up every job from these records. Records are read back as untrusted input: a record that does
 * not have the shape below is reported, naming its key and field, and skipped.
 */
import { ClusterError } from '../core/errors.js';
import type { MembershipSnapshot } from './elastic-job.js';
import { JOB_STATES, type JobSnapshot } from './job.js';
import type { WorkerRecord } from './worker-registry.js';

/** A worker as its job's record names it: what a coordinator that takes the job up needs. */
export type StoredWorker = Readonly<
  Pick<
    WorkerRecord,
    | 'id'
    | 'hostname'
    | 'pid'
    | 'collectiveAddress'
    | 'metricsAddress'
    | 'joinedAt'
    | 'keyHash'
    | 'generation'
    | 'rank'
    | 'leaving'
  >
>;

/** One job's record. */
export interface JobRecord {
  readonly version: 1;
  readonly job: JobSnapshot;
  /** The checkpoint step a resumed job starts from, null for a fresh one. */
  readonly resumeStep: number | null;
  /** While it runs; null before it started and after it ended. */
  readonly membership: MembershipSnapshot | null;
  readonly workers: readonly StoredWorker[];
}

const PHASES = ['forming', 'training', 'draining', 'collecting', 'waiting', 'finishing'];

type Obj = Record<string, unknown>;

/** Checks the shape of the fields a coordinator acts on; the rest is carried as stored. */
class Checker {
  constructor(private readonly key: string) {}

  fail(path: string, what: string): never {
    throw new ClusterError('STATE_INVALID', `job record ${this.key}: ${path}: ${what}`);
  }

  object(v: unknown, path: string): Obj {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) this.fail(path, 'expected an object');
    return v as Obj;
  }

  array(v: unknown, path: string): unknown[] {
    if (!Array.isArray(v)) this.fail(path, 'expected an array');
    return v;
  }

  string(o: Obj, name: string, path: string): string {
    if (typeof o[name] !== 'string') this.fail(`${path}.${name}`, 'expected a string');
    return o[name];
  }

  int(o: Obj, name: string, path: string, min = 0): number {
    const v = o[name];
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < min) {
      this.fail(`${path}.${name}`, `expected an integer >= ${min}`);
    }
    return v;
  }

  number(o: Obj, name: string, path: string, nullable = false): void {
    const v = o[name];
    if (nullable && v === null) return;
    if (typeof v !== 'number' || !Number.isFinite(v)) this.fail(`${path}.${name}`, 'expected a number');
  }

  bool(o: Obj, name: string, path: string): void {
    if (typeof o[name] !== 'boolean') this.fail(`${path}.${name}`, 'expected true or false');
  }
}

/** Reads the record stored under `key`; a ClusterError STATE_INVALID naming the field otherwise. */
export function parseJobRecord(json: string, key: string): JobRecord {
  const c = new Checker(key);
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch (err) {
    throw new ClusterError('STATE_INVALID', `job record ${key}: not JSON: ${(err as Error).message}`, {
      cause: err,
    });
  }
  const r = c.object(v, 'record');
  if (r.version !== 1) c.fail('version', `expected 1, got ${JSON.stringify(r.version)}`);
  const job = c.object(r.job, 'job');
  if (c.string(job, 'id', 'job') !== key) c.fail('job.id', `names another job than its key`);
  const config = c.object(job.config, 'job.config');
  c.string(config, 'model', 'job.config');
  c.string(config, 'out', 'job.config');
  c.int(config, 'workers', 'job.config', 1);
  c.int(config, 'minWorkers', 'job.config', 1);
  for (const n of ['submittedAt', 'sequence', 'generation', 'worldSize', 'failures', 'step', 'totalSteps']) {
    c.int(job, n, 'job');
  }
  c.number(job, 'loss', 'job', true);
  c.number(job, 'endedAt', 'job', true);
  c.string(job, 'lastFailure', 'job');
  c.string(job, 'message', 'job');
  const history = c.array(job.history, 'job.history');
  if (history.length === 0) c.fail('job.history', 'is empty');
  history.forEach((e, i) => {
    const o = c.object(e, `job.history[${i}]`);
    if (!(JOB_STATES as readonly unknown[]).includes(o.state))
      c.fail(`job.history[${i}].state`, 'not a job state');
    c.int(o, 'at', `job.history[${i}]`);
    c.string(o, 'reason', `job.history[${i}]`);
  });
  if (r.resumeStep !== null) c.int(r, 'resumeStep', 'record');
  const workers = c.array(r.workers, 'workers');
  const ids = new Set<string>();
  workers.forEach((w, i) => {
    const p = `workers[${i}]`;
    const o = c.object(w, p);
    ids.add(c.string(o, 'id', p));
    c.string(o, 'hostname', p);
    c.string(o, 'collectiveAddress', p);
    c.string(o, 'metricsAddress', p);
    // Records written before workers had keys have none: the worker's next Join binds one.
    if (o.keyHash === undefined) o.keyHash = '';
    c.string(o, 'keyHash', p);
    for (const n of ['pid', 'joinedAt', 'generation']) c.int(o, n, p);
    c.int(o, 'rank', p, -1);
    c.bool(o, 'leaving', p);
  });
  if (r.membership !== null) {
    const m = c.object(r.membership, 'membership');
    if (!PHASES.includes(m.phase as string)) c.fail('membership.phase', `not one of ${PHASES.join(', ')}`);
    const named = (id: unknown, path: string): void => {
      if (typeof id !== 'string' || !ids.has(id)) c.fail(path, 'names no stored worker');
    };
    c.array(m.members, 'membership.members').forEach((id, i) => named(id, `membership.members[${i}]`));
    if (m.evaluator !== null) named(m.evaluator, 'membership.evaluator');
    c.object(m.ends, 'membership.ends');
    c.array(m.ready, 'membership.ready');
    c.array(m.survivors, 'membership.survivors');
    c.array(m.failures, 'membership.failures');
    c.array(m.worldSizes, 'membership.worldSizes');
    c.array(m.generations, 'membership.generations');
    for (const n of ['stepsRedone', 'committed', 'startStep', 'imagesReported', 'startedAt']) {
      c.int(m, n, 'membership');
    }
    c.number(m, 'checkpointStep', 'membership', true);
    c.number(m, 'deadline', 'membership', true);
    c.number(m, 'recoveryFrom', 'membership', true);
    c.string(m, 'totals', 'membership');
  }
  return r as unknown as JobRecord;
}
