/**
 * One rank in a process of its own, for the tests that kill a peer (not used by the library). Run
 * with an IPC channel: it reports `{ address }`, joins when sent JoinOptions, runs one allreduce of
 * `[rank + 1]` with tag 1, reports `{ result }`, and then idles until it is killed.
 */
import { CollectiveEndpoint, type JoinOptions } from './collective-endpoint.js';

const send = (message: object): void => {
  process.send!(message);
};

const endpoint = await CollectiveEndpoint.listen({ host: '127.0.0.1', port: 0 });
process.once('message', (options: JoinOptions) => {
  void (async () => {
    const group = await endpoint.join(options);
    const data = Float32Array.of(options.rank + 1);
    await group.allreduce(data, 'sum', { tag: 1, timeoutMs: 10_000 });
    send({ result: data[0] });
  })();
});
send({ address: endpoint.address });
