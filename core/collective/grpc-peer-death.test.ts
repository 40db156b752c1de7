import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';

import { CollectiveEndpoint } from './collective-endpoint.js';
import { checkLeavingPeer } from './testing.js';

test('gRPC ring: a peer process killed mid-call fails every other rank at once with COLLECTIVE_LINK', async () => {
  const child = fork(fileURLToPath(new URL('./testing-rank-process.ts', import.meta.url)), {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  try {
    const [{ address }] = (await once(child, 'message')) as [{ address: string }];
    const dead = 2;
    const eps = await Promise.all(
      [0, 1, 3].map(() => CollectiveEndpoint.listen({ host: '127.0.0.1', port: 0 })),
    );
    const peers = [eps[0]!.address, eps[1]!.address, address, eps[2]!.address];
    const options = (rank: number) => ({ jobId: 'death', generation: 1, rank, peers, timeoutMs: 10_000 });
    child.send(options(dead));
    const groups = await Promise.all([0, 1, 3].map((rank, i) => eps[i]!.join(options(rank))));
    const childResult = once(child, 'message') as Promise<[{ result: number }]>;
    const data = [0, 1, 3].map((rank) => Float32Array.of(rank + 1));
    await Promise.all(groups.map((g, i) => g.allreduce(data[i]!, 'sum', { tag: 1, timeoutMs: 10_000 })));
    assert.deepEqual(
      data.map((d) => d[0]),
      [10, 10, 10],
    );
    assert.equal((await childResult)[0].result, 10);

    // checkLeavingPeer wants a group per rank; the dead rank's slot is never called.
    const all = [groups[0]!, groups[1]!, groups[0]!, groups[2]!];
    await checkLeavingPeer(all, dead, async () => {
      child.kill('SIGKILL');
      await once(child, 'exit');
    });
    await Promise.all(groups.map((g) => g.close()));
    await Promise.all(eps.map((e) => e.close()));
  } finally {
    child.kill('SIGKILL');
  }
});
