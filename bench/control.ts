/**
 * The control plane, measured: how long a job goes without a coordinator when one dies, how fast
 * queued jobs get through, and how many workers one coordinator serves. Real processes on
 * loopback, a real nats-server with JetStream for each part (test/nats-server.ts).
 *
 *   node --import tsx bench/control.ts [--parts failover,queue,scale] [--trials 5] [--jobs 100]
 *                                      [--workers 1000,10000] [--rendezvous 1000]
 *
 * failover: a 2-worker job (log every step) loses its coordinator (kill -9) at step 30, either
 *   started again at once ("restart") or with a standby already running ("standby"). Measured from
 *   the kill: until the next coordinator leads (its log line), and until metrics.jsonl grows again
 *   (the control plane has the job back). The workers train on meanwhile, up to the next
 *   checkpoint (the epoch's end), which waits for a coordinator.
 * queue: N one-step jobs submitted by gRPC, one after another, to a coordinator with 2 idle
 *   workers; SubmitJob's latency, submit-to-start (RENDEZVOUS in the job's history minus its
 *   submission), and jobs per second from the first submission to the last job's end.
 * scale: W simulated workers in this process speak the real proto (a Join stream each, heartbeats
 *   at the idle rate of 2 s, over 64 connections) against one coordinator with JetStream state;
 *   heartbeat and GetStatus latency over 20 s, the coordinator's CPU share, and a rendezvous of
 *   --rendezvous workers (submit to the last assignment received).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, type ClientReadableStream } from '@grpc/grpc-js';
import { connect } from '@nats-io/transport-node';
import { LEASE_TTL_MS } from '../core/control-plane/leader-lease.js';
import { readMetricsLog } from '../core/train/metrics-log.js';
import { coordinatorPackage, type WorkerEvent__Output } from '../proto/coordinator-service.js';
import { NatsServer } from '../test/nats-server.js';
import { Cluster, until, type Running } from '../test/processes.js';
import { CoordinatorClient } from '../worker/coordinator-client.js';
import { arg, cpuSeconds, median, percentile, sleep, waitForQuiet } from './machine.js';

const LEADING = /: leading \(state in /;
/** The coordinators' --lease-ttl here (their default): a standby cannot take over sooner. */
const TTL_S = LEASE_TTL_MS / 1000;
const FAULT_STEP = 30;
const FAILOVER_JOB = [
  '--model',
  'ae',
  '--layers',
  '64,16',
  '--limit',
  '3000',
  '--batch-size',
  '60',
  '--epochs',
  '4',
  '--no-eval',
  '--no-pictures',
  '--log-every',
  '1',
  '--workers',
  '2',
];
const TINY_JOB = {
  model: 'ae',
  layers: [16, 4],
  limit: 60,
  'batch-size': 60,
  epochs: 1,
  eval: false,
  pictures: false,
};
/** Simulated workers share this many HTTP/2 connections. */
const SIM_CONNECTIONS = 64;
const IDLE_HEARTBEAT_MS = 2000;
const SCALE_WINDOW_MS = 20_000;

function lastStep(out: string): number {
  const r = readMetricsLog(join(out, 'metrics.jsonl'));
  return r.length > 0 ? r[r.length - 1]!.step : 0;
}

const fmt = (xs: readonly number[], digits = 2): string =>
  `${Math.min(...xs).toFixed(digits)} / ${median(xs).toFixed(digits)} / ${Math.max(...xs).toFixed(digits)}`;

interface Failover {
  readonly leadS: number;
  readonly backS: number;
}

async function failoverTrial(mode: 'restart' | 'standby', dir: string): Promise<Failover> {
  const nats = await NatsServer.start();
  const cluster = await Cluster.start(dir, ['--nats', nats.url], LEADING, mode === 'standby' ? 2 : 1);
  try {
    const first = cluster.coordinator;
    let next: Running | null =
      mode === 'standby' ? await cluster.startCoordinator(1, /standing by; the leader is /) : null;
    await Promise.all([0, 1].map(() => cluster.addWorker()));
    const out = join(dir, `failover-${mode}-${Date.now()}`);
    await cluster.submit([...FAILOVER_JOB, '--out', out]);
    await until('step 30', 120_000, () => (lastStep(out) >= FAULT_STEP ? true : null));
    const before = lastStep(out);
    const t0 = performance.now();
    first.child.kill('SIGKILL');
    if (mode === 'restart') {
      await first.exit;
      next = await cluster.startCoordinator(0, / listening on /);
    }
    const leader = next!;
    await until('the next leader', 60_000, () => (LEADING.test(leader.output()) ? true : null)).catch(
      (err: Error) => {
        throw new Error(`${err.message}; it said:\n${leader.output().slice(-3000)}`);
      },
    );
    const leadS = (performance.now() - t0) / 1000;
    await until('metrics.jsonl to grow', 60_000, () => (lastStep(out) > before ? true : null));
    const backS = (performance.now() - t0) / 1000;
    return { leadS, backS };
  } finally {
    await cluster.stop();
    await nats.stop();
  }
}

async function failover(trials: number): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-bench-control-'));
  try {
    for (const mode of ['restart', 'standby'] as const) {
      const runs: Failover[] = [];
      for (let i = 0; i < trials; i++) {
        await waitForQuiet();
        const r = await failoverTrial(mode, dir);
        runs.push(r);
        console.log(
          `failover ${mode} #${i + 1}: leads after ${r.leadS.toFixed(2)} s, records again after ${r.backS.toFixed(2)} s`,
        );
      }
      console.log(
        `failover ${mode} (min / median / max of ${trials}): next leader ${fmt(runs.map((r) => r.leadS))} s; ` +
          `records again ${fmt(runs.map((r) => r.backS))} s; medians against the lease ttl (a takeover ` +
          `needs at least 0.8x: a whole ttl since the last renewal, at most ttl/5 before the kill): ${(median(runs.map((r) => r.leadS)) / TTL_S).toFixed(2)}x and ` +
          `${(median(runs.map((r) => r.backS)) / TTL_S).toFixed(2)}x`,
      );
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function queue(jobs: number): Promise<void> {
  await waitForQuiet();
  const dir = mkdtempSync(join(tmpdir(), 'harmonium-bench-queue-'));
  const nats = await NatsServer.start();
  const cluster = await Cluster.start(dir, ['--nats', nats.url], LEADING);
  const client = new CoordinatorClient(cluster.address, cluster.credentials);
  // When each job first went to RENDEZVOUS, from its state events.
  const watcher = await connect({ servers: nats.url });
  const startedAt = new Map<string, number>();
  watcher.subscribe('harmonium.jobs.*.state', {
    callback: (err, m) => {
      if (err) return;
      const e = m.json<{ job: string; state: string; at: number }>();
      if (e.state === 'RENDEZVOUS' && !startedAt.has(e.job)) startedAt.set(e.job, e.at);
    },
  });
  await watcher.flush();
  try {
    await Promise.all([0, 1].map(() => cluster.addWorker()));
    const submitMs: number[] = [];
    const submittedAt = new Map<string, number>();
    const started = performance.now();
    for (let i = 0; i < jobs; i++) {
      const t = performance.now();
      const info = await client.submitJob(JSON.stringify({ ...TINY_JOB, out: `q${i}` }), 1, `q-${i}`);
      submitMs.push(performance.now() - t);
      submittedAt.set(info.jobId!, info.submittedAtMs!);
    }
    const ids = [...submittedAt.keys()];
    const ended = await until('every job to end', 600_000, async () => {
      const mine = ((await client.status()).jobs ?? []).filter((j) => submittedAt.has(j.jobId!));
      return mine.length === jobs &&
        mine.every((j) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.state!))
        ? mine
        : null;
    });
    const wall = (performance.now() - started) / 1000;
    const failed = ended.filter((j) => j.state !== 'SUCCEEDED').length;
    const waits = ids
      .filter((id) => startedAt.has(id))
      .map((id) => startedAt.get(id)! - submittedAt.get(id)!);
    console.log(
      `queue: ${jobs} one-step jobs on 2 workers: ${(jobs / wall).toFixed(2)} jobs/s (${wall.toFixed(1)} s), ` +
        `${failed} not succeeded; SubmitJob p50 ${percentile(submitMs, 0.5).toFixed(1)} ms, ` +
        `p99 ${percentile(submitMs, 0.99).toFixed(1)} ms`,
    );
    console.log(
      `queue: submit to RENDEZVOUS: first job ${waits[0]!.toFixed(0)} ms; p50 ${percentile(waits, 0.5).toFixed(0)} ms, ` +
        `max ${Math.max(...waits).toFixed(0)} ms (later jobs queue behind the others)`,
    );
  } finally {
    await watcher.close();
    client.close();
    await cluster.stop();
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A simulated worker: a Join stream and heartbeats, the real proto, no training. */
interface SimWorker {
  readonly id: string;
  beats: number[];
  assigned: number | null;
  stream: ClientReadableStream<WorkerEvent__Output> | null;
}

async function scale(counts: readonly number[], rendezvous: number): Promise<void> {
  const Ctor = coordinatorPackage().Coordinator;
  for (const count of counts) {
    await waitForQuiet();
    const dir = mkdtempSync(join(tmpdir(), 'harmonium-bench-scale-'));
    const nats = await NatsServer.start();
    // Plaintext: thousands of simulated workers share a few raw connections and show no keys; what
    // is measured is the coordinator's control loop (a TLS connection costs its handshake once).
    const cluster = await Cluster.start(
      dir,
      ['--nats', nats.url, '--adopt-grace', '60', '--insecure'],
      LEADING,
    );
    const clients = Array.from(
      { length: SIM_CONNECTIONS },
      // A distinct option per client: distinct channels, so many connections, not one.
      (_, i) =>
        new Ctor(cluster.address, credentials.createInsecure(), {
          'grpc.max_receive_message_length': 8 << 20,
          'harmonium.bench.connection': i,
        }),
    );
    const workers: SimWorker[] = Array.from({ length: count }, (_, i) => ({
      id: `sim-${i}`,
      beats: [],
      assigned: null,
      stream: null,
    }));
    const pid = cluster.coordinator.child.pid!;
    let measuring = false;
    let stop = false;
    try {
      const joinStart = performance.now();
      workers.forEach((w, i) => {
        const c = clients[i % SIM_CONNECTIONS]!;
        w.stream = c.Join({
          workerId: w.id,
          collectiveAddress: `127.0.0.1:${10_000 + (i % 50_000)}`,
          hostname: 'sim',
          pid: 1_000_000 + i,
          metricsAddress: '',
        });
        w.stream.on('data', (e: WorkerEvent__Output) => {
          if (e.assignment && w.assigned === null) w.assigned = performance.now();
        });
        w.stream.on('error', () => undefined);
      });
      const status = new CoordinatorClient(cluster.address, cluster.credentials);
      await until(`${count} joined`, 120_000, async () =>
        ((await status.status()).workers?.length ?? 0) >= count ? true : null,
      );
      const joinS = (performance.now() - joinStart) / 1000;
      // Heartbeats at the idle rate, spread over the interval.
      const beat = (w: SimWorker, c: InstanceType<typeof Ctor>): void => {
        if (stop) return;
        const t = performance.now();
        c.Heartbeat(
          { workerId: w.id, jobId: '', generation: 0, step: 0 },
          { deadline: new Date(Date.now() + 10_000) },
          () => {
            if (measuring) w.beats.push(performance.now() - t);
          },
        );
      };
      const timers = workers.map((w, i) =>
        setTimeout(
          () => {
            beat(w, clients[i % SIM_CONNECTIONS]!);
            timers[i] = setInterval(() => beat(w, clients[i % SIM_CONNECTIONS]!), IDLE_HEARTBEAT_MS);
          },
          (i / count) * IDLE_HEARTBEAT_MS,
        ),
      );
      await sleep(2 * IDLE_HEARTBEAT_MS);
      measuring = true;
      const cpu0 = cpuSeconds(pid);
      const own0 = cpuSeconds(process.pid);
      const t0 = performance.now();
      const statusMs: number[] = [];
      while (performance.now() - t0 < SCALE_WINDOW_MS) {
        const t = performance.now();
        await status.status();
        statusMs.push(performance.now() - t);
        await sleep(1000);
      }
      const window = (performance.now() - t0) / 1000;
      const cpu = (cpuSeconds(pid) - cpu0) / window;
      const own = (cpuSeconds(process.pid) - own0) / window;
      measuring = false;
      const beats = workers.flatMap((w) => w.beats);
      console.log(
        `scale ${count} workers: joined in ${joinS.toFixed(1)} s; heartbeats ${beats.length} in ${window.toFixed(0)} s, ` +
          `p50 ${percentile(beats, 0.5).toFixed(1)} ms, p99 ${percentile(beats, 0.99).toFixed(1)} ms; ` +
          `GetStatus p50 ${percentile(statusMs, 0.5).toFixed(1)} ms, max ${Math.max(...statusMs).toFixed(1)} ms; ` +
          `coordinator CPU ${(cpu * 100).toFixed(0)} % of one core (the simulated workers ${(own * 100).toFixed(0)} %)`,
      );
      const n = Math.min(rendezvous, count);
      const t1 = performance.now();
      await status.submitJob(
        JSON.stringify({ model: 'ae', workers: n, 'min-workers': n, 'batch-size': n }),
        0,
        'rdv',
      );
      await until(`${n} assignments`, 60_000, () =>
        workers.filter((w) => w.assigned !== null).length >= n ? true : null,
      );
      const last = Math.max(...workers.filter((w) => w.assigned !== null).map((w) => w.assigned!));
      console.log(
        `scale ${count} workers: rendezvous of ${n} (submit to the last assignment) ${((last - t1) / 1000).toFixed(2)} s`,
      );
      stop = true;
      for (const t of timers) clearInterval(t);
      status.close();
    } finally {
      stop = true;
      for (const w of workers) w.stream?.cancel();
      for (const c of clients) c.close();
      await cluster.stop();
      await nats.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }
}

async function main(): Promise<void> {
  const parts = arg('parts', 'failover,queue,scale').split(',');
  if (parts.includes('failover')) await failover(Number(arg('trials', '5')));
  if (parts.includes('queue')) await queue(Number(arg('jobs', '100')));
  if (parts.includes('scale')) {
    await scale(arg('workers', '1000,10000').split(',').map(Number), Number(arg('rendezvous', '1000')));
  }
}

await main();
