/**
 * Our gRPC ring timed with one OS process per rank, as bench/allreduce.ts and bench/scaling.ts run
 * it: each rank process (this file, run with `--rank-process`) listens on its host, reports its
 * address, joins the group, and per size runs a few warm-up calls, then per iteration a barrier
 * and one timed allreduce; an iteration counts the slowest rank, and rank 0 reports the median.
 * How a rank process is started (fork on this host, or `ip netns exec` on an emulated one) is the
 * caller's.
 */
import { median } from './machine.js';
import { once } from 'node:events';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CollectiveEndpoint } from '../core/collective/collective-endpoint.js';
import type { WireDtype } from '../core/collective/wire-dtype.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { readTlsDir } from '../core/security/tls-dir.js';

export const MiB = 1 << 20;
const WARMUP = 2;
const TIMEOUT_MS = 120_000;

/** This file, for launchers that start rank processes themselves. */
export const RANK_SCRIPT = fileURLToPath(import.meta.url);

interface RankTask {
  readonly peers: readonly string[];
  readonly rank: number;
  readonly sizes: readonly number[];
  readonly iters: readonly number[];
  readonly segmentBytes: number;
  readonly wire: WireDtype;
}

/** The median time of one size. */
export interface Timing {
  readonly bytes: number;
  readonly medianS: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** Enough iterations for a stable median without minutes of 64 MiB calls on 2 cores. */
export const iterationsFor = (bytes: number): number =>
  Math.min(20, Math.max(5, Math.ceil((256 * MiB) / bytes)));

export /** One rank, in its own process: reports its address, joins, times every size, reports timings. */
async function runRank(): Promise<void> {
  const tlsDir = arg('tls-dir', '');
  const credentials =
    tlsDir === '' ? ClusterCredentials.INSECURE : ClusterCredentials.of(readTlsDir(tlsDir), null);
  const endpoint = await CollectiveEndpoint.listen({ host: arg('host', '127.0.0.1'), port: 0, credentials });
  process.send!({ address: endpoint.address });
  const [task] = (await once(process, 'message')) as [RankTask];
  const group = await endpoint.join({
    jobId: 'bench',
    generation: 1,
    rank: task.rank,
    peers: task.peers,
    timeoutMs: TIMEOUT_MS,
    segmentBytes: task.segmentBytes,
    linkSecret: 'bench-generation-secret',
  });
  let tag = 0;
  const opts = () => ({ tag: tag++, timeoutMs: TIMEOUT_MS, wire: task.wire });
  for (let s = 0; s < task.sizes.length; s++) {
    const bytes = task.sizes[s]!;
    const data = new Float32Array(bytes / 4).fill(1 / (task.rank + 1));
    for (let i = 0; i < WARMUP; i++) await group.allreduce(data, 'avg', opts());
    const times = new Float32Array(task.iters[s]!);
    for (let i = 0; i < times.length; i++) {
      await group.barrier(opts());
      const start = performance.now();
      await group.allreduce(data, 'avg', opts());
      times[i] = (performance.now() - start) / 1000;
    }
    await group.allreduce(times, 'max', { tag: tag++, timeoutMs: TIMEOUT_MS });
    if (task.rank === 0) process.send!({ bytes, medianS: median([...times]) } satisfies Timing);
  }
  await group.close();
  await endpoint.close();
  process.disconnect();
}

/** Starts rank `rank`'s process: RANK_SCRIPT with `args`, and an IPC channel. */
export type RankLauncher = (rank: number, args: readonly string[]) => ChildProcess;

/** Forks the rank processes on this host, with extra node flags. */
export function forkRanks(nodeFlags: readonly string[]): RankLauncher {
  const execArgv = [...process.execArgv, ...nodeFlags];
  return (_rank, args) => fork(RANK_SCRIPT, [...args], { stdio: 'inherit', execArgv });
}

/** How long a whole timing run may take before its rank processes are killed. */
const RUN_DEADLINE_MS = 900_000;

/** Our ring with `world` rank processes started by `launch`; resolves with rank 0's timings. */
export async function timeRing(
  world: number,
  sizes: readonly number[],
  segmentBytes: number,
  wire: WireDtype,
  launch: RankLauncher,
  tlsDir: string | null = null,
): Promise<Timing[]> {
  const children: ChildProcess[] = [];
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`the ${world}-rank timing run did not end within ${RUN_DEADLINE_MS / 1000} s`)),
      RUN_DEADLINE_MS,
    );
  });
  try {
    return await Promise.race([runRanks(children, world, sizes, segmentBytes, wire, launch, tlsDir), late]);
  } finally {
    clearTimeout(timer);
    for (const c of children) if (c.exitCode === null) c.kill();
  }
}

async function runRanks(
  children: ChildProcess[],
  world: number,
  sizes: readonly number[],
  segmentBytes: number,
  wire: WireDtype,
  launch: RankLauncher,
  tlsDir: string | null,
): Promise<Timing[]> {
  for (let r = 0; r < world; r++) {
    children.push(launch(r, ['--rank-process', ...(tlsDir ? ['--tls-dir', tlsDir] : [])]));
  }
  const addresses = await Promise.all(
    children.map(async (c) => ((await once(c, 'message')) as [{ address: string }])[0].address),
  );
  const timings: Timing[] = [];
  children[0]!.on('message', (t: Timing) => timings.push(t));
  const iters = sizes.map(iterationsFor);
  children.forEach((c, rank) =>
    c.send({ peers: addresses, rank, sizes, iters, segmentBytes, wire } satisfies RankTask),
  );
  const exits = await Promise.all(children.map(async (c) => ((await once(c, 'exit')) as [number | null])[0]));
  if (exits.some((code) => code !== 0)) throw new Error(`a rank process exited with ${exits.join(', ')}`);
  return timings;
}

if (process.argv.includes('--rank-process')) await runRank();
