/**
 * How submitted jobs reach the coordinator: SubmitJob (or any NATS client publishing on the
 * submissions subject) puts a submission on the control store's queue; the coordinator takes them
 * one at a time, compiles each as a job file, records the job and only then acknowledges it. A
 * submission that cannot be compiled is dead-lettered with its reason and nothing else is lost;
 * one that was taken but not recorded (the coordinator died) is delivered again; the same job id
 * twice is one job.
 *
 * A submission's body is JSON: `{"id": "my-job", "options": {"model": "ae", "epochs": 2}, "workers": 0}`
 * (`options` as in a job file, `workers` > 0 overrides its `workers`).
 */
import { randomBytes } from 'node:crypto';
import type { ControlStore, QueuedSubmission } from '../core/control-plane/control-store.js';
import type { JobConfig } from '../core/config/job-config.js';
import { compileSubmission } from '../core/config/job-submission.js';
import { ConfigError, HarmoniumError } from '../core/errors.js';
import type { Coordinator } from './coordinator.js';
import type { Job } from './job.js';
import type { JobJournal } from './job-journal.js';
import { JobOutputs } from './job-outputs.js';
import { resolveRunOut } from './runs-dir.js';

/** What a client may call a job: it names NATS subjects and KV keys. */
const JOB_ID = /^[A-Za-z0-9_-]{1,64}$/;
/** How long SubmitJob waits for its job to be recorded before answering that it is queued. */
const RECORD_WAIT_MS = 5000;

/** A submission as it travels on the queue. */
export interface Submission {
  readonly id: string;
  readonly options: Record<string, unknown>;
  readonly workers: number;
}

/** What SubmitJob answers: the job, or (not recorded yet) that it is queued. */
export type Submitted = { readonly job: Job } | { readonly queued: string };

export class JobIntake {
  private readonly coordinator: Coordinator;
  private readonly store: ControlStore;
  private readonly journal: JobJournal | null;
  private readonly runsDir: string;
  private readonly log: (line: string) => void;
  /** SubmitJob calls waiting for their job to be recorded, by job id. */
  private readonly waiting = new Map<string, Array<() => void>>();

  constructor(parts: {
    coordinator: Coordinator;
    store: ControlStore;
    journal: JobJournal | null;
    runsDir: string;
    log: (line: string) => void;
  }) {
    this.coordinator = parts.coordinator;
    this.store = parts.store;
    this.journal = parts.journal;
    this.runsDir = parts.runsDir;
    this.log = parts.log;
  }

  /** Starts taking submissions off the queue. */
  start(): void {
    this.store.consume((s) => this.take(s));
  }

  /**
   * SubmitJob: compiles the options (a ConfigError naming the option if they are refused), queues
   * the submission and waits for the job to be recorded.
   */
  async submit(configJson: string, workers: number, id: string): Promise<Submitted> {
    if (id !== '' && !JOB_ID.test(id)) {
      throw new ConfigError('job_id', `letters, digits, '-' and '_', at most 64, got ${JSON.stringify(id)}`);
    }
    const { model } = compileSubmission(configJson);
    const jobId = id || `${model}-${randomBytes(4).toString('hex')}`;
    const known = this.find(jobId);
    if (known) return { job: known };
    const options = JSON.parse(configJson) as Record<string, unknown>;
    const submission: Submission = { id: jobId, options, workers };
    // Refused here, to the client, rather than dead-lettered later.
    const config = this.compile(submission);
    if (config.resume) new JobOutputs(config.out).checkpointStep();
    let wake: () => void = () => undefined;
    const recorded = new Promise<void>((resolve) => (wake = resolve));
    this.waiting.set(jobId, [...(this.waiting.get(jobId) ?? []), wake]);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, RECORD_WAIT_MS)));
    try {
      await this.store.enqueue(jobId, JSON.stringify(submission));
      await Promise.race([recorded, timeout]);
    } finally {
      clearTimeout(timer);
      const rest = (this.waiting.get(jobId) ?? []).filter((w) => w !== wake);
      if (rest.length > 0) this.waiting.set(jobId, rest);
      else this.waiting.delete(jobId);
    }
    const job = this.find(jobId);
    return job ? { job } : { queued: jobId };
  }

  /** The job of a submission, compiled as a job file, its `out` under the runs directory. */
  compile(s: Submission): JobConfig {
    const options = s.workers > 0 ? { ...s.options, workers: s.workers } : s.options;
    const config = compileSubmission(JSON.stringify(options), `submission ${s.id}`);
    return {
      ...config,
      out: resolveRunOut(this.runsDir, config.out === '' ? null : config.out, config.model),
    };
  }

  private find(id: string): Job | undefined {
    return this.coordinator.has(id) ? this.coordinator.job(id) : undefined;
  }

  private async take(m: QueuedSubmission): Promise<void> {
    let s: Submission;
    let config: JobConfig;
    try {
      s = parseSubmission(m.body);
      if (this.coordinator.has(s.id)) {
        await m.ack();
        this.recorded(s.id);
        return;
      }
      config = this.compile(s);
      this.coordinator.submit(config, s.id);
    } catch (err) {
      if (!(err instanceof HarmoniumError)) throw err;
      const reason = err.message;
      this.log(`coordinator: submission #${m.sequence} dead-lettered: ${reason}`);
      await m.reject(reason);
      return;
    }
    // Acknowledged once the record is stored: a coordinator that dies first leaves it queued, and
    // one that was deposed (flush rejects) leaves it to the leader.
    await this.coordinator.persisted();
    await this.journal?.flush(s.id);
    await m.ack();
    this.recorded(s.id);
  }

  private recorded(id: string): void {
    for (const resolve of this.waiting.get(id) ?? []) resolve();
    this.waiting.delete(id);
  }
}

/** A queued submission's body; a ConfigError naming the field otherwise. */
export function parseSubmission(body: string): Submission {
  let v: unknown;
  try {
    v = JSON.parse(body);
  } catch (err) {
    throw new ConfigError('submission', `not JSON: ${(err as Error).message}`, { cause: err });
  }
  const o = v as Partial<Submission> | null;
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    throw new ConfigError('submission', 'expected a JSON object {id, options, workers}');
  }
  if (typeof o.id !== 'string' || !JOB_ID.test(o.id)) {
    throw new ConfigError(
      'submission.id',
      `letters, digits, '-' and '_', at most 64, got ${JSON.stringify(o.id)}`,
    );
  }
  if (o.options === null || typeof o.options !== 'object' || Array.isArray(o.options)) {
    throw new ConfigError('submission.options', 'expected a JSON object of job-file options');
  }
  const workers = o.workers ?? 0;
  if (!Number.isSafeInteger(workers) || workers < 0) {
    throw new ConfigError('submission.workers', `expected an integer >= 0, got ${JSON.stringify(o.workers)}`);
  }
  return { id: o.id, options: o.options, workers };
}
