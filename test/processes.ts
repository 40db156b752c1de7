/**
 * Real processes for the end-to-end tests: a `harmonium` command in a child process with its output
 * kept, waiting on a condition with a deadline, the live children of a launcher, and a standalone
 * coordinator with its pool of workers (each a real `harmonium worker` process) that tests signal.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createCertificates } from '../core/security/certificate-authority.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { resolveCredentials } from '../core/security/credential-options.js';
import type { JobInfo, StatusReply } from '../proto/coordinator-service.js';
import { CoordinatorClient } from '../worker/coordinator-client.js';
import { REPO } from './cli-helpers.js';
import { freePort } from './free-port.js';

const BIN = join(REPO, 'cli', 'harmonium.mjs');

/** A running `harmonium` process. */
export interface Running {
  readonly child: ChildProcess;
  /** Everything it printed so far (stdout and stderr). */
  output(): string;
  /** Resolves with its exit code (null when a signal ended it). */
  readonly exit: Promise<number | null>;
}

/** Starts `harmonium ARGS` in the repository, keeping its output. */
export function start(args: readonly string[], flags: readonly string[] = []): Running {
  const child = spawn(process.execPath, [...flags, BIN, ...args], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => text, exit };
}

/** Polls `probe` every 100 ms until it returns non-null; throws naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => T | null | Promise<T | null>,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Live direct children of `pid` (a launcher's worker processes), from /proc. */
export function childPids(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the parenthesised command: state, ppid, ...
      const [state, ppid] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(ppid) === pid && state !== 'Z') out.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return out.sort((a, b) => a - b);
}

/** The float32 values of a file (a checkpoint's weights.bin). */
export function floats(path: string): Float32Array {
  const b = readFileSync(path);
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
}

/** The largest |a[i] - b[i]| over two equally long arrays. */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`${a.length} values against ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/**
 * Standalone coordinators on free ports (one, or several sharing a NATS: `address` is then their
 * list) and the worker processes a test starts for them. Every process uses mutual TLS and the
 * token of a CA made for the cluster, unless the coordinator's arguments say `--insecure`.
 */
export class Cluster {
  readonly workers: Running[] = [];
  /** Every coordinator process started, the last one last. */
  readonly coordinators: Running[] = [];
  /** The list workers and clients are given. */
  readonly address: string;
  private readonly client: CoordinatorClient;

  private constructor(
    private readonly listen: readonly string[],
    private readonly args: readonly string[],
    private readonly ready: RegExp,
    /** The TLS directory every process is given (null: plaintext). */
    readonly tlsDir: string | null,
    /** How this test's own calls are made. */
    readonly credentials: ClusterCredentials,
  ) {
    this.address = listen.join(',');
    this.client = new CoordinatorClient(this.address, credentials);
  }

  /** The arguments that give a process the cluster's credentials. */
  get credentialArgs(): string[] {
    return this.tlsDir === null ? ['--insecure'] : ['--tls-dir', this.tlsDir];
  }

  /** The coordinator process started last. */
  get coordinator(): Running {
    return this.coordinators[this.coordinators.length - 1]!;
  }

  /**
   * The first of `count` coordinators (the others: {@link startCoordinator}) whose jobs write
   * under `runsDir` (default: the system's temporary directory), with `extra` arguments (e.g.
   * --nats URL), ready once its output matches `ready`.
   */
  static async start(
    runsDir: string = tmpdir(),
    extra: readonly string[] = [],
    ready = / listening on /,
    count = 1,
  ): Promise<Cluster> {
    const listen: string[] = [];
    for (let i = 0; i < count; i++) listen.push(`127.0.0.1:${await freePort()}`);
    let tlsDir: string | null = null;
    let credentials = ClusterCredentials.INSECURE;
    if (!extra.includes('--insecure')) {
      tlsDir = mkdtempSync(join(tmpdir(), 'harmonium-test-tls-'));
      await createCertificates(tlsDir);
      credentials = resolveCredentials({ tlsDir }, 'client', {});
    }
    const args = ['coordinator', '--runs-dir', runsDir, ...(tlsDir ? ['--tls-dir', tlsDir] : []), ...extra];
    const cluster = new Cluster(listen, args, ready, tlsDir, credentials);
    await cluster.startCoordinator();
    return cluster;
  }

  /**
   * Starts coordinator `i` (again) on its address and waits until its output matches `ready`
   * (default: the cluster's).
   */
  async startCoordinator(i = 0, ready = this.ready): Promise<Running> {
    const c = start([...this.args, '--listen', this.listen[i]!]);
    this.coordinators.push(c);
    await until('the coordinator', 30_000, () => (ready.test(c.output()) ? true : null)).catch(
      (err: Error) => {
        throw new Error(`${err.message}: ${c.output()}`);
      },
    );
    return c;
  }

  /** Starts a worker process (with `extra` arguments) and waits until it has joined. */
  async addWorker(extra: readonly string[] = []): Promise<Running> {
    const joined = this.joinedCount();
    const w = start(
      ['worker', '--coordinator', this.address, '--threads', '1', ...this.credentialArgs, ...extra],
      ['--single-threaded-gc'],
    );
    this.workers.push(w);
    await until('a worker to join', 60_000, () => (this.joinedCount() > joined ? true : null));
    return w;
  }

  private joinedCount(): number {
    return this.coordinators.reduce((n, c) => n + (c.output().match(/ joined from /g) ?? []).length, 0);
  }

  /** Submits a job (detached) and returns its id. */
  async submit(args: readonly string[]): Promise<string> {
    const r = start(['submit', '--coordinator', this.address, '--detach', ...this.credentialArgs, ...args]);
    const code = await r.exit;
    const id = /submitted job (\S+)/.exec(r.output())?.[1];
    if (code !== 0 || !id) throw new Error(`submit failed (${code}): ${r.output()}`);
    return id;
  }

  /** The coordinator's status, asked with the cluster's credentials. */
  status(): Promise<StatusReply> {
    return this.client.status();
  }

  async job(id: string): Promise<JobInfo> {
    const s = await this.client.status();
    const job = s.jobs?.find((j) => j.jobId === id);
    if (!job) throw new Error(`no job ${id}`);
    return job;
  }

  /** Waits until job `id` has ended; returns its info. */
  async ended(id: string, timeoutMs: number): Promise<JobInfo> {
    try {
      return await until(`job ${id} to end`, timeoutMs, async () => {
        // A coordinator that stands by or cannot reach its store refuses for a while: ask again.
        const j = await this.job(id).catch((err: Error) =>
          /NOT_LEADER|UNAVAILABLE|No connection/.test(err.message) ? null : Promise.reject(err),
        );
        return j && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.state ?? '') ? j : null;
      });
    } catch (err) {
      throw new Error(
        `${(err as Error).message}; the coordinator said:\n${this.coordinator.output().slice(-4000)}`,
      );
    }
  }

  /** The pid of the worker of rank `rank` in job `id`'s current generation. */
  async pidOfRank(id: string, rank: number): Promise<number> {
    const s = await this.client.status();
    const w = s.workers?.find((x) => x.jobId === id && x.rank === rank);
    if (!w) throw new Error(`no rank ${rank} in job ${id}`);
    return w.pid!;
  }

  /** SIGKILLs what is still running. */
  async stop(): Promise<void> {
    this.client.close();
    for (const p of [...this.workers, ...this.coordinators]) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    await Promise.all([...this.workers, ...this.coordinators].map((p) => p.exit));
    if (this.tlsDir !== null) rmSync(this.tlsDir, { recursive: true, force: true });
  }
}
