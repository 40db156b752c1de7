/**
 * `harmonium train --workers N`: a coordinator in this process and a pool of N worker processes on
 * this machine, over loopback: with mutual TLS and a token from a CA made for this run alone
 * (deleted at its end), unless told to use a given TLS directory or none (`--insecure`). The job writes the same outputs as the single-process trainer. A
 * worker process that dies is reported to the coordinator at once (its job re-forms without it)
 * and replaced by a fresh process, which joins the job at its next step boundary, so the job grows
 * back to N; a pool that keeps dying (more replacements than the job's --max-failures + N) fails
 * the job. When the job has ended every worker is asked to leave; nothing is left running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { availableParallelism, hostname } from 'node:os';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobConfig } from '../core/config/job-config.js';
import { natsAccessFrom } from '../core/control-plane/nats-access.js';
import { ClusterError } from '../core/errors.js';
import { createCertificates } from '../core/security/certificate-authority.js';
import { resolveCredentials, type CredentialFlags } from '../core/security/credential-options.js';
import { TOKEN_FILE } from '../core/security/tls-dir.js';
import { createCoordinatorPresence } from '../core/metrics/coordinator-presence.js';
import { serveMetrics, type MetricsServer } from '../core/metrics/metrics-server.js';
import { ProgressReporter, type ProgressStream } from '../core/train/progress.js';
import { Coordinator } from './coordinator.js';
import { startCoordinatorServer } from './coordinator-server.js';
import { NatsJobEvents } from './nats-job-events.js';
import { formatLogLine, logFormat, stderrLog, type Log } from '../core/logging/log.js';
import { serveJobPages, type JobPageServer } from './job-page-server.js';

/** The CLI entry point the worker processes run. */
const HARMONIUM_BIN = fileURLToPath(new URL('../cli/harmonium.mjs', import.meta.url));
/**
 * Node flags of the worker processes. grpc-js allocates a fresh buffer per message sent and
 * received; V8's parallel GC helpers then compete with the ranks for the cores. Measured on the
 * 2-core machine, deep autoencoder, 2 workers: all-reduce 50 -> 21 ms per step, 850 -> 1250 img/s.
 */
const WORKER_NODE_FLAGS = ['--single-threaded-gc'];
/** How long workers get to exit by themselves after their job ended, before they are killed. */
const EXIT_GRACE_MS = 15_000;

/** Options of {@link runLocalCluster}. */
export interface LocalClusterOptions {
  readonly log?: Log;
  readonly progress?: ProgressStream;
  /**
   * `--tls-dir`, `--token-file`, `--insecure` as given to train; none of them: a CA and token made
   * for this run.
   */
  readonly credentialFlags?: CredentialFlags;
  /** Serve the job's page on 127.0.0.1 at this port (`--http-port`); 0 or absent: none. */
  readonly httpPort?: number;
}

/** The credentials of a local run, the worker flags that give them, and what to delete at the end. */
async function localCredentials(flags: CredentialFlags): Promise<{
  credentials: ReturnType<typeof resolveCredentials>;
  workerArgs: string[];
  temp: string | null;
}> {
  if (flags.insecure || flags.tlsDir !== undefined) {
    const credentials = resolveCredentials(flags, 'server');
    const workerArgs = flags.insecure
      ? ['--insecure']
      : ['--tls-dir', flags.tlsDir!, ...(flags.tokenFile ? ['--token-file', flags.tokenFile] : [])];
    return { credentials, workerArgs, temp: null };
  }
  const temp = await mkdtemp(join(tmpdir(), 'harmonium-tls-'));
  try {
    await createCertificates(temp, { days: 1 });
    // Named explicitly, so that a HARMONIUM_TOKEN of the environment does not stand in for it.
    const tokenFile = join(temp, TOKEN_FILE);
    const credentials = resolveCredentials({ tlsDir: temp, tokenFile }, 'server', {});
    return { credentials, workerArgs: ['--tls-dir', temp, '--token-file', tokenFile], temp };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Relays a worker process's stderr line by line. Its own log lines say who wrote them (`[rank R]`
 * in a job, "worker ID:" outside one; JSON lines their fields) and pass as they are; anything else
 * (a Node warning, a crash's stack) is marked with the process's pid, as a JSON line in json format.
 */
function relayWorkerLines(stream: NodeJS.ReadableStream, pid: number, write: (s: string) => void): void {
  const json = logFormat() === 'json';
  const relay = (line: string): void => {
    if (json) {
      const own = line.startsWith('{') && line.endsWith('}');
      write(`${own ? line : formatLogLine('json', 'worker', line, {}, 'info', new Date(), pid)}\n`);
    } else {
      write(/^(\[rank \d+\] |worker )/.test(line) ? `${line}\n` : `[worker pid ${pid}] ${line}\n`);
    }
  };
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const lines = (rest + chunk).split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) relay(line);
  });
  stream.on('end', () => {
    if (rest) relay(rest);
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('exit', () => resolve()));
}

/**
 * Runs the job on `config.workers` local worker processes; resolves with summary.json once it
 * succeeded, rejects with a ClusterError carrying the coordinator's verdict otherwise.
 */
export async function runLocalCluster(
  config: JobConfig,
  opts: LocalClusterOptions = {},
): Promise<Record<string, unknown>> {
  const log = opts.log ?? stderrLog('coordinator');
  const bar: { progress: ProgressReporter | null } = { progress: null };
  const events =
    config.nats === '' ? null : await NatsJobEvents.connect(natsAccessFrom(config.nats, {}), log);
  const coordinator = new Coordinator({
    log,
    // The launcher sees its children exit; a closed stream waits that long for its word.
    disconnectGraceMs: 200,
    ...(events ? { events } : {}),
    onProgress: (job) => {
      // The first report of each rank says where it starts, without a loss yet.
      if (job.totalSteps === 0 || !Number.isFinite(job.loss)) return;
      bar.progress ??= new ProgressReporter({
        totalSteps: job.totalSteps,
        startStep: job.step,
        startImages: 0,
        ...(opts.progress ? { stream: opts.progress } : {}),
      });
      bar.progress.update({ step: job.step, imagesSeen: job.step * config.batchSize, loss: job.loss });
    },
  });
  const local = await localCredentials(opts.credentialFlags ?? {});
  const server = await startCoordinatorServer(coordinator, {
    host: '127.0.0.1',
    port: 0,
    tickMs: 250,
    credentials: local.credentials,
  }).catch(async (err: unknown) => {
    if (local.temp) await rm(local.temp, { recursive: true, force: true });
    throw err;
  });
  let metrics: MetricsServer | null = null;
  let pages: JobPageServer | null = null;
  const children: ChildProcess[] = [];
  // One coordinator, in this process: it leads for as long as the job runs.
  const presence = createCoordinatorPresence(() => true);
  const onSignal = (signal: NodeJS.Signals): void => {
    for (const job of coordinator.allJobs) coordinator.cancel(job.id, `interrupted by ${signal}`);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    if (config.metricsPort > 0) {
      const current = () => (coordinator.metrics ? [presence, coordinator.metrics.registry] : [presence]);
      metrics = await serveMetrics(current, {
        host: '127.0.0.1',
        port: config.metricsPort,
      });
    }
    if (opts.httpPort) {
      pages = await serveJobPages(coordinator, { host: '127.0.0.1', port: opts.httpPort });
    }
    const job = coordinator.submit(config);
    if (pages) log(`job page: ${pages.url}/jobs/${job.id}/`, { job: job.id });
    log(
      `coordinator on ${server.address} (${local.credentials.describe()}); starting ${config.workers} workers`,
    );
    // All workers share this host: by default its cores are split between them, so that N
    // processes do not each start a pool as large as the machine and fight over the cores.
    const threads =
      config.threads > 0 ? config.threads : Math.max(1, Math.floor(availableParallelism() / config.workers));
    let started = 0;
    const startWorker = (): void => {
      const i = started++;
      const child = spawn(
        process.execPath,
        [
          ...WORKER_NODE_FLAGS,
          HARMONIUM_BIN,
          'worker',
          '--coordinator',
          server.address,
          '--threads',
          String(threads),
          ...local.workerArgs,
        ],
        { stdio: ['ignore', 'inherit', 'pipe'] },
      );
      relayWorkerLines(child.stderr!, child.pid ?? -1, (line) => process.stderr.write(line));
      child.once('exit', (code, signal) => {
        if (job.terminal) return;
        const how = signal ?? `code ${code}`;
        coordinator.workerExited(hostname(), child.pid ?? -1, how);
        if (job.terminal) return;
        if (started - config.workers >= config.maxFailures + config.workers) {
          coordinator.failJob(
            job.id,
            `worker processes keep exiting: ${started} started; the last, pid ${child.pid}, with ${how}`,
          );
          return;
        }
        log(`worker process ${i} (pid ${child.pid}) exited with ${how}; starting a replacement`);
        startWorker();
      });
      children.push(child);
    };
    for (let i = 0; i < config.workers; i++) startWorker();
    const ended = await coordinator.waitFor(job.id);
    // job.html and the last pictures are in the run directory before it is said done.
    await coordinator.settled();
    bar.progress?.finish();
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGTERM');
    const grace = setTimeout(() => children.forEach((c) => c.kill('SIGKILL')), EXIT_GRACE_MS);
    await Promise.all(children.map(exited));
    clearTimeout(grace);
    if (ended.state !== 'SUCCEEDED') {
      throw new ClusterError(
        ended.state === 'CANCELLED' ? 'JOB_CANCELLED' : 'JOB_FAILED',
        `job ${ended.id} ${ended.state.toLowerCase()}: ${ended.message}`,
      );
    }
    return JSON.parse(readFileSync(join(config.out, 'summary.json'), 'utf8')) as Record<string, unknown>;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await metrics?.close();
    await pages?.close();
    await server.close();
    await events?.close();
    if (local.temp) await rm(local.temp, { recursive: true, force: true });
  }
}
