/** What the coordinator's tests share: a compiled job config with the fields the coordinator reads. */
import { join } from 'node:path';
import type { JobConfig } from '../core/config/job-config.js';

/** A job of `workers` workers writing under `dir`/`out`, the coordinator's defaults otherwise. */
export function testJobConfig(
  dir: string,
  out: string,
  workers: number,
  extra: Partial<JobConfig> = {},
): JobConfig {
  return {
    model: 'ae',
    out: join(dir, out),
    workers,
    minWorkers: 1,
    rendezvousTimeout: 30,
    maxFailures: 10,
    batchSize: 100,
    heartbeatTimeout: 5,
    collectiveTimeout: 60,
    digestEvery: 100,
    metricsPort: 0,
    resume: false,
    auditSamples: false,
    ...extra,
  } as JobConfig;
}
