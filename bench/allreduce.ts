/**
 * Allreduce bus bandwidth of the gRPC ring (core/collective) with one OS process per rank on
 * loopback, next to torch.distributed gloo measured in the same run by bench/gloo-allreduce.py, and
 * the raw loopback TCP rate (iperf3, else a Node socket).
 *
 *   node --import tsx bench/allreduce.ts [--worlds 2,4] [--sizes 1,4,16,64] [--segment-bytes 1048576]
 *     [--wire float32|bf16|fp16] [--ours-only]
 *
 * Sizes are MiB of float32. `--wire bf16` (or fp16) sends our ring's values as 16 bits (gloo's stay
 * float32); busbw still counts the float32 bytes reduced, so it is the rate a caller sees. Both sides run float32 sum with a few warm-up calls, then per iteration
 * a barrier and one timed call; an iteration counts the slowest rank, and the median is reported.
 * busbw follows nccl-tests: algbw = bytes / time, busbw = algbw * 2(n-1)/n. The gloo column needs
 * Debian's python3-torch (skipped with a note when absent).
 *
 * Our ring runs twice: with Node's default GC, and with the rank processes started with
 * `--single-threaded-gc`. The grpc-js buffers each segment passes through are external memory that
 * makes V8 start concurrent marking every call or two; on a small machine whose cores all run rank
 * processes those helper threads compete with the ranks themselves (measured: up to 2-3x slower).
 *
 * A third run adds mutual TLS (certificates from a CA made for the run, as `train --workers` does)
 * to the single-threaded-GC ranks; its last column is its busbw as a fraction of the same ranks'
 * without TLS (the target: at least 0.9). ours/gloo stays in the last columns. The yardstick for that fraction, measured first: Node's
 * own http2, one stream from one process to another, with and without TLS.
 */
import { spawn, spawnSync, fork } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import http2 from 'node:http2';
import { createServer, connect, type AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { WIRE_DTYPES, type WireDtype } from '../core/collective/wire-dtype.js';
import { createCertificates } from '../core/security/certificate-authority.js';
import { forkRanks, iterationsFor, MiB, timeRing, type Timing } from './ring-ranks.js';

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const numbers = (s: string): number[] => s.split(',').map(Number);

/** Our ring with `world` rank processes forked here with `nodeFlags`; rank 0's timings. */
function timeOurs(
  world: number,
  sizes: readonly number[],
  segmentBytes: number,
  nodeFlags: readonly string[],
  wire: WireDtype,
  tlsDir: string | null = null,
): Promise<Timing[]> {
  return timeRing(world, sizes, segmentBytes, wire, forkRanks(nodeFlags), tlsDir);
}

/** gloo through bench/gloo-allreduce.py, or null with the reason printed. */
function timeGloo(world: number, sizes: readonly number[]): Timing[] | null {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'gloo-allreduce.py');
  const r = spawnSync(
    '/usr/bin/python3',
    [
      script,
      '--world',
      String(world),
      '--sizes',
      sizes.join(','),
      '--iters',
      sizes.map(iterationsFor).join(','),
    ],
    { encoding: 'utf8', timeout: 600_000 },
  );
  if (r.status !== 0) {
    console.error(
      `gloo world ${world} skipped: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`,
    );
    return null;
  }
  return r.stdout
    .trim()
    .split('\n')
    .map((line) => {
      const j = JSON.parse(line) as { bytes: number; median_s: number };
      return { bytes: j.bytes, medianS: j.median_s };
    });
}

/** One-way loopback TCP in bytes/s: iperf3 if installed, else a Node socket pushing 4 MiB writes. */
async function loopbackTcp(): Promise<{ how: string; bytesPerS: number }> {
  const probe = spawnSync('iperf3', ['--version'], { encoding: 'utf8' });
  if (probe.status === 0) {
    const server = spawn('iperf3', ['-s', '-1', '-p', '5299', '-B', '127.0.0.1'], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const client = spawnSync('iperf3', ['-c', '127.0.0.1', '-p', '5299', '-t', '3', '-J'], {
      encoding: 'utf8',
    });
    server.kill();
    if (client.status === 0) {
      const j = JSON.parse(client.stdout) as { end: { sum_received: { bits_per_second: number } } };
      return { how: 'iperf3, one stream', bytesPerS: j.end.sum_received.bits_per_second / 8 };
    }
  }
  const total = 1 << 30;
  const chunk = Buffer.alloc(4 * MiB, 7);
  const server = createServer((s) => {
    let n = 0;
    s.on('data', (d: Buffer) => {
      n += d.length;
      if (n >= total) s.end('k');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const socket = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(socket, 'connect');
  const start = performance.now();
  let sent = 0;
  const pump = (): void => {
    while (sent < total) {
      sent += chunk.length;
      if (!socket.write(chunk)) {
        socket.once('drain', pump);
        return;
      }
    }
  };
  pump();
  await once(socket, 'data');
  const seconds = (performance.now() - start) / 1000;
  socket.destroy();
  server.close();
  return { how: 'Node net socket, 4 MiB writes', bytesPerS: total / seconds };
}

/** An http2 server that counts what one POST stream brings (the yardstick's other process). */
function serveHttp2(tlsDir: string): void {
  const settings = { initialWindowSize: 2 ** 31 - 1 };
  const file = (n: string): Buffer => readFileSync(join(tlsDir, n));
  const server =
    tlsDir === ''
      ? http2.createServer({ settings })
      : http2.createSecureServer({
          settings,
          key: file('tls.key'),
          cert: file('tls.crt'),
          ca: file('ca.crt'),
          requestCert: true,
        });
  server.on('stream', (stream) => {
    stream.on('data', () => undefined);
    stream.on('end', () => {
      stream.respond({ ':status': 200 });
      stream.end();
    });
  });
  server.listen(0, '127.0.0.1', () => process.send!((server.address() as AddressInfo).port));
}

/** One-way bytes/s of Node's http2 between two processes, with mutual TLS from `tlsDir` or plaintext (''). */
async function http2Rate(tlsDir: string): Promise<number> {
  const total = 1 << 30;
  const chunk = Buffer.alloc(MiB, 7);
  const child = fork(fileURLToPath(import.meta.url), ['--h2-server', '--tls-dir', tlsDir], {
    stdio: 'inherit',
  });
  try {
    const [port] = (await once(child, 'message')) as [number];
    const settings = { initialWindowSize: 2 ** 31 - 1 };
    const file = (n: string): Buffer => readFileSync(join(tlsDir, n));
    const session =
      tlsDir === ''
        ? http2.connect(`http://127.0.0.1:${port}`, { settings })
        : http2.connect(`https://127.0.0.1:${port}`, {
            settings,
            ca: file('ca.crt'),
            key: file('tls.key'),
            cert: file('tls.crt'),
            servername: 'harmonium',
          });
    await once(session, 'connect');
    session.setLocalWindowSize(2 ** 31 - 1);
    const start = performance.now();
    const req = session.request({ ':method': 'POST', ':path': '/' });
    let sent = 0;
    const pump = (): void => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) {
          req.once('drain', pump);
          return;
        }
      }
      req.end();
    };
    req.on('data', () => undefined);
    const ended = once(req, 'end');
    pump();
    await ended;
    const seconds = (performance.now() - start) / 1000;
    session.close();
    return total / seconds;
  } finally {
    child.kill();
  }
}

/** `--ours-only`: our ring alone (both GC settings, no TLS, no yardsticks, no gloo), e.g. for bench/link-stress.ts. */
async function oursOnly(
  worlds: readonly number[],
  sizes: readonly number[],
  segmentBytes: number,
  wire: WireDtype,
): Promise<void> {
  console.log('world  MiB   default GC ms  single-threaded GC ms');
  for (const world of worlds) {
    const ours = await timeOurs(world, sizes, segmentBytes, [], wire);
    const single = await timeOurs(world, sizes, segmentBytes, ['--single-threaded-gc'], wire);
    for (const bytes of sizes) {
      const ms = (list: Timing[]): string => {
        const t = list.find((x) => x.bytes === bytes);
        return t === undefined ? '-' : (t.medianS * 1000).toFixed(2);
      };
      console.log(
        [
          String(world).padStart(5),
          String(bytes / MiB).padStart(4),
          ms(ours).padStart(15),
          ms(single).padStart(22),
        ].join(' '),
      );
    }
  }
}

async function main(): Promise<void> {
  const worlds = numbers(arg('worlds', '2,4'));
  const sizes = numbers(arg('sizes', '1,4,16,64')).map((m) => m * MiB);
  const segmentBytes = Number(arg('segment-bytes', String(MiB)));
  const wire = arg('wire', 'float32') as WireDtype;
  if (!WIRE_DTYPES.includes(wire)) throw new Error(`--wire must be one of ${WIRE_DTYPES.join(', ')}`);
  if (process.argv.includes('--ours-only')) {
    await oursOnly(worlds, sizes, segmentBytes, wire);
    return;
  }

  const tcp = await loopbackTcp();
  console.log(`loopback TCP (${tcp.how}): ${(tcp.bytesPerS / 1e9).toFixed(2)} GB/s`);
  const tlsDir = mkdtempSync(join(tmpdir(), 'harmonium-bench-tls-'));
  await createCertificates(tlsDir, { days: 1 });
  const plainH2 = await http2Rate('');
  const tlsH2 = await http2Rate(tlsDir);
  console.log(
    `yardstick, Node http2 one way between two processes: plaintext ${(plainH2 / 1e9).toFixed(3)} GB/s, ` +
      `mutual TLS ${(tlsH2 / 1e9).toFixed(3)} GB/s: TLS/plain ${(tlsH2 / plainH2).toFixed(2)}`,
  );
  console.log(
    `segment ${segmentBytes} bytes; our wire ${wire}; times are medians in ms, busbw in GB/s (1e9 bytes/s)`,
  );
  console.log(
    '                ours, default GC   ours, --single-threaded-gc   single-threaded GC + mutual TLS' +
      '         gloo     ours/gloo',
  );
  console.log(
    'world  MiB       ms    busbw            ms    busbw          ms    busbw  TLS/plain' +
      '           ms    busbw   default single',
  );
  for (const world of worlds) {
    const ours = await timeOurs(world, sizes, segmentBytes, [], wire);
    const single = await timeOurs(world, sizes, segmentBytes, ['--single-threaded-gc'], wire);
    const tls = await timeOurs(world, sizes, segmentBytes, ['--single-threaded-gc'], wire, tlsDir);
    const gloo = timeGloo(world, sizes);
    const factor = (2 * (world - 1)) / world;
    for (const bytes of sizes) {
      const busbw = (t: Timing | undefined): number =>
        t === undefined ? NaN : (bytes / t.medianS / 1e9) * factor;
      const ms = (t: Timing | undefined): string => (t === undefined ? '-' : (t.medianS * 1000).toFixed(2));
      const [o, s1, g, t1] = [ours, single, gloo ?? [], tls].map((list) =>
        list.find((t) => t.bytes === bytes),
      );
      const gb = busbw(g);
      const cells = [
        String(world).padStart(5),
        String(bytes / MiB).padStart(4),
        ms(o).padStart(8),
        busbw(o).toFixed(3).padStart(8),
        ms(s1).padStart(13),
        busbw(s1).toFixed(3).padStart(8),
        ms(t1).padStart(11),
        busbw(t1).toFixed(3).padStart(8),
        (busbw(t1) / busbw(s1)).toFixed(2).padStart(10),
        ms(g).padStart(12),
        (g ? gb.toFixed(3) : '-').padStart(8),
        (g ? (busbw(o) / gb).toFixed(2) : '-').padStart(9),
        (g ? (busbw(s1) / gb).toFixed(2) : '-').padStart(6),
      ];
      console.log(cells.join(' '));
    }
  }
  rmSync(tlsDir, { recursive: true, force: true });
}

if (process.argv.includes('--h2-server')) serveHttp2(arg('tls-dir', ''));
else await main();
