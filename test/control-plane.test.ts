/**
 * The control plane on a real nats-server with JetStream (each test's own, on a free port and a
 * temporary store), with real coordinator and worker processes and real signals: a coordinator
 * killed (-9) mid-job and started again takes the running job up without restarting a worker and
 * the job's records go on without a gap or a step twice; jobs queued before a kill all run after
 * the restart; the same job id twice is one job; NATS itself restarted mid-job costs nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readMetricsLog } from '../core/train/metrics-log.js';
import { readSamplesLog } from '../core/train/samples-log.js';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { harmonium, readJson } from './cli-helpers.js';
import { loggedStep, SMALL_AE, smallAeJob, TINY_JOB_OPTIONS, tinyJob } from './jobs.js';
import { NatsServer, natsSkip } from './nats-server.js';
import { Cluster, until } from './processes.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-control-'));
const STEPS_PER_EPOCH = SMALL_AE.stepsPerEpoch;
const LOG_EVERY = 5;
const job = (epochs: number): string[] => smallAeJob(epochs, { logEvery: LOG_EVERY });

/** Every step committed once, and metrics.jsonl with every logged step once, in order. */
function checkRecords(out: string, epochs: number): void {
  const steps = epochs * STEPS_PER_EPOCH;
  assert.deepEqual(
    readSamplesLog(join(out, 'samples.jsonl')).map((l) => l.step),
    Array.from({ length: steps }, (_, i) => i),
    'samples.jsonl: every step once',
  );
  assert.deepEqual(
    readMetricsLog(join(out, 'metrics.jsonl')).map((r) => r.step),
    Array.from({ length: steps / LOG_EVERY }, (_, i) => (i + 1) * LOG_EVERY),
    'metrics.jsonl: every logged step once, in order',
  );
}

/** A coordinator on NATS is ready once it leads (the last test's may hold the lease for a ttl). */
const LEADING = /: leading \(state in /;

describe('control plane on NATS JetStream (real processes)', { skip: natsSkip }, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await NatsServer.start();
  });
  after(async () => {
    await nats.stop();
  });

  it('coordinator kill -9 mid-job: the restarted coordinator takes the job up; no worker restarted, no step lost or twice', async () => {
    const cluster = await Cluster.start(tmp, ['--nats', nats.url, '--lease-ttl', '2'], LEADING);
    try {
      const workers = await Promise.all([0, 1].map(() => cluster.addWorker()));
      const out = join(tmp, 'adopted');
      const id = await cluster.submit([...job(4), '--workers', '2', '--out', out]);
      await until('step 30', 120_000, () => (loggedStep(out) >= 30 ? true : null));
      const old = cluster.coordinator;
      old.child.kill('SIGKILL');
      await old.exit;
      const killedAt = loggedStep(out);
      // The workers train on without a coordinator for a while.
      await new Promise((r) => setTimeout(r, 1500));
      const restarted = await cluster.startCoordinator();
      assert.match(restarted.output(), /leading \(state in JetStream at nats:\/\/127\.0\.0\.1/);
      await until('a step after the restart', 60_000, () => (loggedStep(out) > killedAt ? true : null));
      const info = await cluster.ended(id, 180_000);
      assert.equal(info.state, 'SUCCEEDED', info.message + restarted.output());
      checkRecords(out, 4);
      const s = readJson(join(out, 'summary.json'));
      assert.equal(s['steps'], 4 * STEPS_PER_EPOCH);
      assert.deepEqual(s['failures'], [], 'no worker was lost');
      assert.equal(info.generation, 1, 'the generation went on: nobody re-formed it');
      for (const w of workers) assert.equal(w.child.exitCode, null, 'every worker process lives on');
      assert.match(restarted.output(), /taken up RUNNING at generation 1/);
    } finally {
      await cluster.stop();
    }
  });

  it('jobs queued when the coordinator is killed all run after its restart; the same job id twice is one job', async () => {
    const cluster = await Cluster.start(tmp, ['--nats', nats.url, '--lease-ttl', '2'], LEADING);
    try {
      const ids = ['queued-a', 'queued-b', 'queued-c'];
      for (const id of ids) await cluster.submit([...tinyJob(id), '--job-id', id]);
      assert.equal(await cluster.submit([...tinyJob('queued-a'), '--job-id', 'queued-a']), 'queued-a');
      const old = cluster.coordinator;
      old.child.kill('SIGKILL');
      await old.exit;
      await cluster.startCoordinator();
      assert.equal(await cluster.submit([...tinyJob('queued-b'), '--job-id', 'queued-b']), 'queued-b');
      await cluster.addWorker();
      for (const id of ids) {
        const info = await cluster.ended(id, 120_000);
        assert.equal(info.state, 'SUCCEEDED', `${id}: ${info.message}`);
        assert.equal(readJson(join(tmp, id, 'summary.json'))['steps'], 5);
      }
      const status = JSON.parse(
        harmonium(['status', '--coordinator', cluster.address, '--json', ...cluster.credentialArgs]).stdout,
      ) as {
        jobs: Array<{ jobId: string; submittedAtMs: number }>;
      };
      // (The store also holds the other tests' jobs.)
      const mine = status.jobs.filter((j) => j.jobId.startsWith('queued-'));
      assert.deepEqual(mine.map((j) => j.jobId).sort(), ids, 'three jobs, each once');
      const order = [...mine].sort((a, b) => a.submittedAtMs - b.submittedAtMs).map((j) => j.jobId);
      assert.deepEqual(order, ids);
      // Its events, from before and after the restart, from the start.
      const logs = harmonium(['logs', 'queued-a', '--nats', nats.url]);
      assert.equal(logs.status, 0, logs.stderr);
      const states = logs.stdout
        .split('\n')
        .filter((l) => / state /.test(l))
        .map((l) => l.split(/\s+/)[2]);
      assert.deepEqual(states, ['PENDING', 'RENDEZVOUS', 'RUNNING', 'SUCCEEDED'], logs.stdout);
      const followed = harmonium(['logs', 'queued-c', '--nats', nats.url, '--follow', '--json']);
      assert.equal(followed.status, 0, followed.stderr);
      assert.equal(JSON.parse(followed.stdout.trim().split('\n').pop()!).state, 'SUCCEEDED');
      assert.equal(harmonium(['logs', 'no-such-job', '--nats', nats.url]).status, 1);
    } finally {
      await cluster.stop();
    }
  });

  it('a malformed message on the submissions subject is dead-lettered with its reason; a job published there by any NATS client runs', async () => {
    const cluster = await Cluster.start(tmp, ['--nats', nats.url, '--lease-ttl', '2'], LEADING);
    const nc = await connect({ servers: nats.url });
    try {
      const js = jetstream(nc);
      await js.publish('harmonium.submit', 'this is not json');
      await js.publish(
        'harmonium.submit',
        JSON.stringify({ id: 'bad-option', options: { model: 'ae', epocs: 1 } }),
      );
      const good = { id: 'from-nats', options: { ...TINY_JOB_OPTIONS, out: 'from-nats' }, workers: 1 };
      await js.publish('harmonium.submit', JSON.stringify(good));
      await cluster.addWorker();
      const info = await cluster.ended('from-nats', 120_000);
      assert.equal(info.state, 'SUCCEEDED', info.message);
      const jsm = await jetstreamManager(nc);
      const dead = await until('two dead letters', 10_000, async () => {
        const s = await jsm.streams.info('HARMONIUM_DEAD_LETTERS');
        return s.state.messages >= 2 ? s.state : null;
      });
      const reasons: string[] = [];
      for (let seq = dead.first_seq; seq <= dead.last_seq; seq++) {
        const m = await jsm.streams.getMessage('HARMONIUM_DEAD_LETTERS', { seq });
        reasons.push(`${m!.string()} => ${m!.header.get('Harmonium-Reason')}`);
      }
      assert.match(reasons.join('\n'), /this is not json => submission: not JSON/);
      assert.match(reasons.join('\n'), /bad-option.*=> .*epocs.*did you mean epochs/);
      assert.equal((await jsm.streams.info('HARMONIUM_SUBMISSIONS')).state.messages, 0, 'the queue is empty');
    } finally {
      await nc.close();
      await cluster.stop();
    }
  });

  it('NATS restarted mid-job: the job goes on and its events resume', async () => {
    const cluster = await Cluster.start(tmp, ['--nats', nats.url, '--lease-ttl', '2'], LEADING);
    try {
      await Promise.all([0, 1].map(() => cluster.addWorker()));
      const out = join(tmp, 'nats-restart');
      const id = await cluster.submit([
        ...job(2),
        '--workers',
        '2',
        '--out',
        out,
        '--job-id',
        'nats-restart',
      ]);
      await until('step 20', 120_000, () => (loggedStep(out) >= 20 ? true : null));
      await nats.kill();
      await new Promise((r) => setTimeout(r, 1000));
      await nats.restart();
      const info = await cluster.ended(id, 180_000);
      assert.equal(info.state, 'SUCCEEDED', info.message);
      checkRecords(out, 2);
      const logs = await until('the SUCCEEDED event', 15_000, () => {
        const r = harmonium(['logs', id, '--nats', nats.url]);
        return r.stdout.includes('SUCCEEDED') ? r.stdout : null;
      });
      assert.match(logs, /RUNNING/);
    } finally {
      await cluster.stop();
    }
  });

  it('two coordinators: kill -9 of the leader, the standby takes over within 10 s; a leader stopped past its lease cannot act when continued', async () => {
    const cluster = await Cluster.start(tmp, ['--nats', nats.url, '--lease-ttl', '2'], LEADING, 2);
    try {
      const first = cluster.coordinator;
      const standby = await cluster.startCoordinator(1, /standing by; the leader is /);
      const workers = await Promise.all([0, 1].map(() => cluster.addWorker()));
      const out = join(tmp, 'standby');
      const id = await cluster.submit([...job(4), '--workers', '2', '--out', out]);
      await until('step 30', 120_000, () => (loggedStep(out) >= 30 ? true : null));
      const killedAt = Date.now();
      first.child.kill('SIGKILL');
      await until('the standby to lead', 10_000, () => (LEADING.test(standby.output()) ? true : null)).catch(
        (err: Error) => {
          throw new Error(`${err.message}; the standby said:\n${standby.output()}`);
        },
      );
      const takeover = Date.now() - killedAt;
      const at = loggedStep(out);
      await until('a step under the new leader', 30_000, () => (loggedStep(out) > at ? true : null));
      assert.ok(takeover < 10_000, `took over after ${takeover} ms`);

      // The new leader is stopped for longer than its lease; a fresh coordinator takes over.
      const third = await cluster.startCoordinator(0, /standing by; the leader is /);
      standby.child.kill('SIGSTOP');
      await until('the third coordinator to lead', 20_000, () =>
        LEADING.test(third.output()) ? true : null,
      );
      standby.child.kill('SIGCONT');
      const code = await Promise.race([
        standby.exit,
        new Promise<string>((r) => setTimeout(() => r('still running'), 15_000)),
      ]);
      assert.equal(code, 1, 'the deposed leader stops by itself');
      assert.match(standby.output(), /lost the lead|another coordinator wrote/);

      const info = await cluster.ended(id, 180_000);
      assert.equal(info.state, 'SUCCEEDED', info.message + third.output());
      checkRecords(out, 4);
      assert.deepEqual(
        readJson(join(out, 'summary.json'))['failures'],
        [],
        `no worker was lost; the coordinators said:\n${cluster.coordinators.map((c) => c.output().slice(-2500)).join('\n---\n')}\nthe workers said:\n${workers.map((w) => w.output().slice(-1500)).join('\n---\n')}`,
      );
      for (const w of workers) assert.equal(w.child.exitCode, null, 'every worker process lives on');

      // SIGTERM: a standby gives up standing by, and the leader hands the lease over; both exit 0.
      const fourth = await cluster.startCoordinator(1, /standing by; the leader is /);
      fourth.child.kill('SIGTERM');
      assert.equal(await fourth.exit, 0, fourth.output());
      const fifth = await cluster.startCoordinator(1, /standing by; the leader is /);
      const handedAt = Date.now();
      third.child.kill('SIGTERM');
      assert.equal(await third.exit, 0, third.output());
      await until('the hand-over', 5000, () => (LEADING.test(fifth.output()) ? true : null));
      assert.match(fifth.output(), /took the lead its last holder handed over/);
      assert.ok(Date.now() - handedAt < 5000, 'taken without waiting out the lease');
    } finally {
      await cluster.stop();
    }
  });
});
