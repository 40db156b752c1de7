/**
 * Job events on a real nats-server (started by the test on a free port): a subscriber sees every
 * state of a job in order, and progress; an unreachable server is a clear error at start-up.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { JobConfig } from '../core/config/job-config.js';
import type { HarmoniumError } from '../core/errors.js';
import { Coordinator } from './coordinator.js';
import type { JobEvent } from './job-events.js';
import { JOB_EVENTS_SUBJECT, NatsJobEvents } from './nats-job-events.js';
import { freePort } from '../test/free-port.js';

const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find(existsSync) ?? 'nats-server';
const available = spawnSync(NATS_SERVER, ['--version']).status === 0;
// CI installs nats-server: there the test must run, never skip.
const skip =
  available || process.env['CI'] ? false : 'nats-server is not installed (apt-get install nats-server)';

describe('NATS job events', { skip }, () => {
  let server: ReturnType<typeof spawn>;
  let url = '';

  before(async () => {
    const port = await freePort();
    url = `nats://127.0.0.1:${port}`;
    server = spawn(NATS_SERVER, ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const nc = await connect({ servers: url, timeout: 500 });
        await nc.close();
        return;
      } catch (err) {
        if (Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  });

  after(() => {
    server.kill();
  });

  it('publishes every state of a job, in order, and rank 0 progress', async () => {
    const watcher: NatsConnection = await connect({ servers: url });
    const received: { subject: string; event: JobEvent }[] = [];
    const sub = watcher.subscribe(`${JOB_EVENTS_SUBJECT}.>`, {
      callback: (err, msg) => {
        if (!err) received.push({ subject: msg.subject, event: msg.json<JobEvent>() });
      },
    });
    await watcher.flush();
    const events = await NatsJobEvents.connect(url, () => undefined);
    const c = new Coordinator({ log: () => undefined, events });
    const out = join(mkdtempSync(join(tmpdir(), 'harmonium-nats-')), 'run');
    const job = c.submit({
      model: 'rbm',
      out,
      workers: 1,
      minWorkers: 1,
      rendezvousTimeout: 30,
      maxFailures: 0,
      batchSize: 10,
      heartbeatTimeout: 10,
      collectiveTimeout: 60,
      resume: false,
      auditSamples: false,
    } as JobConfig);
    c.join(
      { id: 'w', hostname: 'h', pid: 1, collectiveAddress: '127.0.0.1:1', metricsAddress: '' },
      () => undefined,
    );
    c.report({
      workerId: 'w',
      jobId: job.id,
      generation: 1,
      step: 0,
      totalSteps: 4,
      imagesSeen: 0,
      loss: NaN,
      log: [],
    });
    const record = { step: 4, epoch: 0, loss: 12.5, images_per_second: 100 };
    c.report({
      workerId: 'w',
      jobId: job.id,
      generation: 1,
      step: 4,
      totalSteps: 4,
      imagesSeen: 40,
      loss: 12.5,
      log: [{ step: 4, record }],
    });
    c.generationDone({
      workerId: 'w',
      jobId: job.id,
      generation: 1,
      reason: 'finished',
      step: 4,
      inProgress: false,
      detail: '',
      totals: '',
    });
    await c.finish('w', job.id, { model: 'rbm' }, []);
    await events.close();
    await watcher.flush();
    const end = Date.now() + 5000;
    while (received.length < 5 && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    sub.unsubscribe();
    await watcher.close();

    const states = received.filter((r) => r.event.kind === 'state');
    assert.deepEqual(
      states.map((r) => r.event.state),
      ['PENDING', 'RENDEZVOUS', 'RUNNING', 'SUCCEEDED'],
    );
    assert.ok(states.every((r) => r.subject === `${JOB_EVENTS_SUBJECT}.${job.id}.state`));
    assert.equal(states[1]!.event.generation, 1);
    const progress = received.filter((r) => r.event.kind === 'progress');
    assert.equal(progress.length, 1);
    assert.equal(progress[0]!.subject, `${JOB_EVENTS_SUBJECT}.${job.id}.progress`);
    assert.deepEqual(
      [progress[0]!.event.step, progress[0]!.event.totalSteps, progress[0]!.event.loss],
      [4, 4, 12.5],
    );
  });

  it('fails with the server named when NATS cannot be reached', async () => {
    const port = await freePort();
    await assert.rejects(
      NatsJobEvents.connect(`nats://127.0.0.1:${port}`, () => undefined),
      (err: HarmoniumError) => {
        assert.equal(err.code, 'RPC_FAILED');
        assert.match(err.message, new RegExp(`cannot connect to NATS at nats://127.0.0.1:${port}`));
        return true;
      },
    );
  });
});
