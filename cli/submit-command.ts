/**
 * Client commands against a running coordinator: submit (and follow) a job, show status, cancel.
 */
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { CoordinatorClient } from '../worker/coordinator-client.js';

const POLL_MS = 2000;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

/**
 * Submits a job's `options` (job-file names and values); unless `detach`, follows it until it
 * ends, printing progress. `jobId` names it ('' lets the coordinator): submitting the same id again
 * starts nothing new. Returns the process exit code: 0 when it succeeded (or was submitted,
 * detached), 1 otherwise.
 */
export async function submitJob(
  address: string,
  options: Record<string, unknown>,
  opts: { detach: boolean; jobId: string; credentials?: ClusterCredentials },
): Promise<number> {
  const client = new CoordinatorClient(address, opts.credentials);
  try {
    const info = await client.submitJob(JSON.stringify(options), 0, opts.jobId);
    console.log(`submitted job ${info.jobId} (${info.state}) to ${address}`);
    if (opts.detach) return 0;
    let last = '';
    for (;;) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      const status = await client.status();
      const job = status.jobs?.find((j) => j.jobId === info.jobId);
      if (!job) throw new Error(`coordinator ${address} no longer knows job ${info.jobId}`);
      const line = `${job.state} step ${job.step}/${job.totalSteps} loss ${Number(job.loss).toFixed(4)}`;
      if (line !== last) console.error(`job ${job.jobId}: ${line}`);
      last = line;
      if (TERMINAL.has(job.state ?? '')) {
        if (job.state !== 'SUCCEEDED') console.error(`job ${job.jobId} ${job.state}: ${job.message}`);
        else console.log(`job ${job.jobId} succeeded; outputs in ${job.out} on the coordinator's machine`);
        return job.state === 'SUCCEEDED' ? 0 : 1;
      }
    }
  } finally {
    client.close();
  }
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Prints the coordinator's jobs and workers. */
export async function showStatus(
  address: string,
  json: boolean,
  credentials = ClusterCredentials.INSECURE,
): Promise<void> {
  const client = new CoordinatorClient(address, credentials);
  try {
    const s = await client.status();
    if (json) {
      console.log(JSON.stringify(s, null, 2));
      return;
    }
    const jobs = s.jobs ?? [];
    const workers = s.workers ?? [];
    console.log(`coordinator ${address}: ${jobs.length} job(s), ${workers.length} worker(s)\n`);
    if (jobs.length > 0) {
      console.log(
        table([
          ['JOB', 'STATE', 'MODEL', 'WORKERS', 'GEN', 'STEP', 'LOSS', 'WORLD', 'LOST', 'OUT', 'MESSAGE'],
          ...jobs.map((j) => [
            j.jobId ?? '',
            j.state ?? '',
            j.model ?? '',
            String(j.workers),
            String(j.generation),
            `${j.step}/${j.totalSteps}`,
            Number.isFinite(Number(j.loss)) ? Number(j.loss).toFixed(4) : '-',
            `${j.worldSize} of ${j.minWorkers}-${j.workers}`,
            String(j.failures),
            j.out ?? '',
            j.message || (j.lastFailure ? `last loss: ${j.lastFailure}` : ''),
          ]),
        ]),
      );
      console.log();
    }
    if (workers.length > 0) {
      console.log(
        table([
          ['WORKER', 'HOST', 'PID', 'COLLECTIVE', 'JOB', 'RANK', 'STEP', 'HEARTBEAT'],
          ...workers.map((w) => [
            w.workerId ?? '',
            w.hostname ?? '',
            String(w.pid),
            w.collectiveAddress ?? '',
            w.jobId || '-',
            Number(w.rank) >= 0 ? String(w.rank) : '-',
            String(w.step),
            `${Number(w.lastHeartbeatAgeSeconds).toFixed(1)} s ago`,
          ]),
        ]),
      );
    }
  } finally {
    client.close();
  }
}

/** Cancels `jobId` and prints its state. */
export async function cancelJob(
  address: string,
  jobId: string,
  credentials = ClusterCredentials.INSECURE,
): Promise<void> {
  const client = new CoordinatorClient(address, credentials);
  try {
    const info = await client.cancelJob(jobId, `cancelled from ${address} by harmonium cancel`);
    console.log(`job ${info.jobId}: ${info.state}`);
  } finally {
    client.close();
  }
}
