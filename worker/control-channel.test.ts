/**
 * The control thread keeps a worker's heartbeats going while its training thread is blocked: a
 * real coordinator process sees heartbeats less than half a second old right after this process
 * spent 3 s in one synchronous computation, where a main-thread timer could not have fired; and
 * closed, it leaves the coordinator's pool and exits by itself.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Cluster } from '../test/processes.js';
import { ControlChannel } from './control-channel.js';
import { CoordinatorClient } from './coordinator-client.js';

describe('ControlChannel', () => {
  it('heartbeats from its own thread while the training thread is busy', async () => {
    const cluster = await Cluster.start();
    const client = new CoordinatorClient(cluster.address, cluster.credentials);
    const control = new ControlChannel(
      cluster.address,
      {
        workerId: 'busy-worker',
        collectiveAddress: '127.0.0.1:1',
        hostname: 'test',
        pid: process.pid,
        metricsAddress: '',
      },
      { heartbeat: () => undefined, lost: () => undefined, streamEnded: () => undefined },
      undefined,
      { credentials: cluster.credentials, workerKey: 'a'.repeat(64) },
    );
    try {
      control.setJob('', 0, -1, 200);
      const joined = async (): Promise<number | null> => {
        const w = (await client.status()).workers?.find((x) => x.workerId === 'busy-worker');
        return w ? Number(w.lastHeartbeatAgeSeconds) : null;
      };
      for (let i = 0; i < 100 && (await joined()) === null; i++) await new Promise((r) => setTimeout(r, 100));
      const blockedUntil = Date.now() + 3000;
      let spin = 0;
      while (Date.now() < blockedUntil) spin++;
      const age = await joined();
      assert.ok(spin > 0);
      assert.ok(age !== null && age < 0.5, `the last heartbeat was ${age} s old after a 3 s block`);
      // Told to close, the thread ends its stream and exits by itself: nobody waits out the fallback.
      assert.equal(await control.close(), 'exited');
      for (let i = 0; i < 50 && (await joined()) !== null; i++) await new Promise((r) => setTimeout(r, 100));
      assert.equal(await joined(), null, 'the coordinator still lists the closed worker');
    } finally {
      await control.close();
      client.close();
      await cluster.stop();
    }
  });
});
