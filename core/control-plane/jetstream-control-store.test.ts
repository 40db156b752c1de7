/**
 * The control store on a real nats-server with JetStream: revision-checked job records (a write
 * naming an old revision fails, so a coordinator that was replaced cannot overwrite its successor:
 * its journal stops and says so once), the submissions queue (the same id twice is one message,
 * handed out once and gone when acknowledged), and records read
 * back by the next coordinator.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { JobJournal } from '../../coordinator/job-journal.js';
import { NatsServer, natsSkip } from '../../test/nats-server.js';
import type { ClusterError } from '../errors.js';
import type { QueuedSubmission } from './control-store.js';
import { JetStreamControlStore } from './jetstream-control-store.js';

describe('JetStreamControlStore', { skip: natsSkip }, () => {
  let nats: NatsServer;
  before(async () => {
    nats = await NatsServer.start();
  });
  after(async () => {
    await nats.stop();
  });

  it('writes job records only over the revision they name', async () => {
    const store = await JetStreamControlStore.open(nats.url);
    try {
      const r1 = await store.putJob('rev-a', '{"n":1}', 0);
      await assert.rejects(store.putJob('rev-a', '{"n":"again"}', 0), { code: 'STALE_REVISION' });
      const r2 = await store.putJob('rev-a', '{"n":2}', r1);
      await assert.rejects(store.putJob('rev-a', '{"n":3}', r1), (err: ClusterError) => {
        assert.equal(err.code, 'STALE_REVISION');
        assert.match(err.message, /jobs\.rev-a .*revision/);
        return true;
      });
      const next = await JetStreamControlStore.open(nats.url);
      try {
        const loaded = (await next.loadJobs()).find((r) => r.key === 'rev-a');
        assert.deepEqual(loaded, { key: 'rev-a', value: '{"n":2}', revision: r2 });
      } finally {
        await next.close();
      }
    } finally {
      await store.close();
    }
  });

  it('a replaced coordinator is fenced: its journal finds another revision, stops and says so once', async () => {
    const a = await JetStreamControlStore.open(nats.url);
    const b = await JetStreamControlStore.open(nats.url);
    try {
      const rev = await a.putJob('fenced', '{"by":"a"}', 0);
      const deposed: ClusterError[] = [];
      const old = new JobJournal(a, { log: () => undefined, onDeposed: (e) => deposed.push(e) });
      old.loaded('fenced', '{"by":"a"}', rev);
      const successor = new JobJournal(b, {
        log: () => undefined,
        onDeposed: () => assert.fail('b deposed'),
      });
      successor.loaded('fenced', '{"by":"a"}', rev);
      successor.record('fenced', '{"by":"b"}');
      await successor.flush('fenced');
      old.record('fenced', '{"by":"a, late"}');
      await assert.rejects(old.flush('fenced'), { code: 'STALE_REVISION' });
      old.record('fenced', '{"by":"a, later"}');
      await old.flushAll();
      assert.equal(deposed.length, 1);
      assert.ok(old.deposed);
      const stored = (await b.loadJobs()).find((r) => r.key === 'fenced');
      assert.equal(stored?.value, '{"by":"b"}', "the successor's record stands");
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('queues a job id once and hands the queue out once, in order', async () => {
    const store = await JetStreamControlStore.open(nats.url);
    try {
      assert.deepEqual(await store.enqueue('q-1', '{"id":"q-1"}'), { duplicate: false });
      assert.deepEqual(await store.enqueue('q-1', '{"id":"q-1","again":true}'), { duplicate: true });
      await store.enqueue('q-2', 'not json');
      const taken: QueuedSubmission[] = [];
      const two = new Promise<void>((resolve) =>
        store.consume(async (s) => {
          taken.push(s);
          if (s.body === 'not json') await s.reject('submission: not JSON\nat line 1');
          else await s.ack();
          if (taken.length === 2) resolve();
        }),
      );
      await two;
      assert.deepEqual(
        taken.map((s) => s.body),
        ['{"id":"q-1"}', 'not json'],
      );
      assert.ok(taken[0]!.sequence < taken[1]!.sequence);
    } finally {
      await store.close();
    }
  });
});
