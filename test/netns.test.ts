/**
 * Multi-host emulation with real network namespaces (test/netns.ts): a shaped link limits a TCP
 * transfer between two hosts, netem is reported as the kernel has it, and nothing is left behind by
 * destroy(), by a creator (bench:scaling itself too) ended with SIGTERM, or (after a sweep) by one
 * killed with SIGKILL. Skipped
 * where not root or without `ip`; CI runs as root and installs iproute2, so there it always runs.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { ConfigError } from '../core/errors.js';
import { REPO } from './cli-helpers.js';
import { NETNS_PREFIX, NetnsHosts, netemAvailable, netnsSkip, sweepStale } from './netns.js';
import { until } from './processes.js';

/** The namespaces whose names start with `prefix`. */
function namespaces(prefix: string): string[] {
  const out = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 10_000 }).stdout;
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(prefix))
    .sort();
}

/** The /etc/netns folders whose names start with `prefix`. */
function etcDirs(prefix: string): string[] {
  try {
    return readdirSync('/etc/netns').filter((d) => d.startsWith(prefix));
  } catch {
    return [];
  }
}

function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

/** Resolves with the exit code and signal of `child` (at once if it ended); throws after 10 s. */
async function exited(child: ChildProcess): Promise<[number | null, NodeJS.Signals | null]> {
  await until(`process ${child.pid} to exit`, 10_000, () =>
    child.exitCode === null && child.signalCode === null ? null : true,
  );
  return [child.exitCode, child.signalCode];
}

/** What `child` prints on stdout, as it comes. */
function stdoutOf(child: ChildProcess): () => string {
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  return () => text;
}

// Counts what it receives after the first chunk, so the time is that of the shaped stream.
const SERVER = `
const server = require('net').createServer((c) => {
  let bytes = 0, first = 0, t0 = 0n;
  c.on('data', (d) => {
    if (t0 === 0n) { t0 = process.hrtime.bigint(); first = d.length; }
    bytes += d.length;
  });
  c.on('end', () => {
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    console.log(JSON.stringify({ bytes, mbit: ((bytes - first) * 8) / ms / 1000 }));
    server.close();
  });
});
server.listen(7000, () => console.log('listening'));
`;
const MIB = 1024 * 1024;
const CLIENT = `const c = require('net').connect(7000, 'h1', () => c.end(Buffer.alloc(${4 * MIB}))); c.resume();`;

// A creator in its own process: three hosts, a name file and a process in h0, then it waits.
const CREATOR = `
import { NetnsHosts } from './test/netns.ts';
const net = await NetnsHosts.create({ hosts: 3 });
net.setHosts({ h0: net.hosts[0].address });
const sleeper = net.spawn(0, 'sleep', ['300'], { stdio: 'ignore' });
console.log(JSON.stringify({ sleeper: sleeper.pid }));
setInterval(() => {}, 1000);
`;

function startCreator(): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', CREATOR], {
    cwd: REPO,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

/** Waits until `creator` made its hosts; returns the pid of its sleeper. */
async function creatorReady(creator: ChildProcess): Promise<number> {
  const out = stdoutOf(creator);
  const line = await until('the creator to make its hosts', 30_000, () => {
    if (creator.exitCode !== null) throw new Error(`the creator exited with ${creator.exitCode}`);
    return out().includes('\n') ? out() : null;
  });
  const { sleeper } = JSON.parse(line) as { sleeper: number };
  const prefix = `${NETNS_PREFIX}${creator.pid}-`;
  assert.equal(namespaces(prefix).length, 4, 'three hosts and a switch');
  assert.equal(etcDirs(prefix).length, 3);
  assert.ok(running(sleeper));
  return sleeper;
}

/** Ends a creator however its test went, and removes what it left. */
async function endCreator(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await exited(child);
  await sweepStale();
}

describe('network-namespace hosts (real namespaces)', { skip: netnsSkip }, () => {
  it('a 100 Mbit/s link carries 4 MiB from h0 to h1 (by name) at no more than its rate', async (t) => {
    const net = await NetnsHosts.create({ hosts: 2, rateMbit: 100 });
    try {
      net.setHosts({ h0: net.hosts[0]!.address, h1: net.hosts[1]!.address });
      const server = net.spawn(1, process.execPath, ['-e', SERVER], { stdio: ['ignore', 'pipe', 'inherit'] });
      const out = stdoutOf(server);
      await until('the server in h1 to listen', 10_000, () => (out().includes('listening') ? true : null));
      const client = net.spawn(0, process.execPath, ['-e', CLIENT], { stdio: 'inherit' });
      const line = await until('the transfer', 30_000, () => /^\{.*\}$/m.exec(out())?.[0] ?? null);
      assert.deepEqual(await exited(client), [0, null]);
      assert.deepEqual(await exited(server), [0, null]);
      const { bytes, mbit } = JSON.parse(line) as { bytes: number; mbit: number };
      t.diagnostic(`4 MiB at ${mbit.toFixed(1)} Mbit/s over a 100 Mbit/s link`);
      assert.equal(bytes, 4 * MIB);
      // An unshaped veth carries several Gbit/s here; the floor only allows for 2 busy cores.
      assert.ok(mbit < 130, `${mbit} Mbit/s is above the shaped 100`);
      assert.ok(mbit > 20, `${mbit} Mbit/s is far below the shaped 100`);
    } finally {
      await net.destroy();
    }
  });

  it('reports netem as the kernel has it, and refuses a delay or loss without it', async () => {
    // The kernel's own answer, in an anonymous namespace of unshare's.
    const kernel =
      spawnSync('unshare', ['--net', 'tc', 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms'], {
        timeout: 10_000,
      }).status === 0;
    const probe = await netemAvailable();
    assert.equal(probe.available, kernel);
    const mine = `${NETNS_PREFIX}${process.pid}-`;
    if (!probe.available) {
      assert.match(probe.reason, /sch_netem/);
      for (const [opts, field] of [
        [{ hosts: 2, delayMs: 10 }, 'delayMs'],
        [{ hosts: 2, rateMbit: 100, lossPercent: 1 }, 'lossPercent'],
        [{ hosts: 2, links: [{}, { delayMs: 5 }] }, 'links[1].delayMs'],
      ] as const) {
        await assert.rejects(
          NetnsHosts.create(opts),
          (err) => err instanceof ConfigError && err.field === field && /sch_netem/.test(err.message),
        );
      }
      assert.deepEqual(namespaces(mine), []);
      return;
    }
    const net = await NetnsHosts.create({ hosts: 2, rateMbit: 100, delayMs: 5, lossPercent: 1 });
    try {
      const dev = net.hosts[0]!.name;
      const shown = spawnSync('tc', ['-n', dev, 'qdisc', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).stdout;
      assert.match(shown, /tbf/);
      assert.match(shown, /netem .*delay 5ms loss 1%/);
    } finally {
      await net.destroy();
    }
  });

  it('a creator ended by SIGTERM removes its namespaces, /etc/netns folders and processes', async () => {
    const child = startCreator();
    try {
      const sleeper = await creatorReady(child);
      child.kill('SIGTERM');
      // The signal is raised again after the cleanup: the process ends as SIGTERM's default would.
      assert.deepEqual(await exited(child), [null, 'SIGTERM']);
      const prefix = `${NETNS_PREFIX}${child.pid}-`;
      assert.deepEqual(namespaces(prefix), []);
      assert.deepEqual(etcDirs(prefix), []);
      await until('the sleeper to end', 5_000, () => (running(sleeper) ? null : true));
    } finally {
      await endCreator(child);
    }
  });

  it('what a creator killed with SIGKILL leaves, the next sweep removes', async () => {
    const child = startCreator();
    try {
      const sleeper = await creatorReady(child);
      child.kill('SIGKILL');
      await exited(child);
      const prefix = `${NETNS_PREFIX}${child.pid}-`;
      const left = namespaces(prefix);
      assert.equal(left.length, 4);
      assert.equal(etcDirs(prefix).length, 3);
      assert.ok(running(sleeper));
      const removed = await sweepStale();
      assert.deepEqual(removed.filter((n) => n.startsWith(prefix)).sort(), left);
      assert.deepEqual(namespaces(prefix), []);
      assert.deepEqual(etcDirs(prefix), []);
      await until('the sleeper to end', 5_000, () => (running(sleeper) ? null : true));
    } finally {
      await endCreator(child);
    }
  });

  it('bench:scaling ended by SIGTERM halfway, its ring ranks running, leaves no namespace or process behind', async () => {
    const bench = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        'bench/scaling.ts',
        '--models',
        'deep',
        '--workers',
        '2',
        '--rates',
        '1000',
        '--no-gloo',
        '--no-jobs',
      ],
      { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] },
    );
    try {
      const prefix = `${NETNS_PREFIX}${bench.pid}-`;
      // Halfway: both hosts and the switch exist and each host runs a rank of the timed all-reduce.
      const ranks = await until('the bench to start its ranks', 60_000, () => {
        const hosts = namespaces(prefix).filter((n) => !n.endsWith('-sw'));
        if (hosts.length !== 2) return null;
        const pids = hosts.map((h) =>
          spawnSync('ip', ['netns', 'pids', h], { encoding: 'utf8', timeout: 10_000 })
            .stdout.split('\n')
            .filter(Boolean)
            .map(Number),
        );
        return pids.every((p) => p.length > 0) ? pids.flat() : null;
      });
      bench.kill('SIGTERM');
      assert.deepEqual(await exited(bench), [null, 'SIGTERM']);
      assert.deepEqual(namespaces(prefix), []);
      assert.deepEqual(etcDirs(prefix), []);
      await until('the ranks to end', 5_000, () => (ranks.some(running) ? null : true));
    } finally {
      await endCreator(bench);
    }
  });

  it('destroy() is idempotent and ends every process started in the hosts', async () => {
    const net = await NetnsHosts.create({ hosts: 2, killGraceMs: 300 });
    try {
      const sleeper = net.spawn(0, 'sleep', ['300'], { stdio: 'ignore' });
      const stubborn = net.spawn(
        1,
        process.execPath,
        ['-e', "process.on('SIGTERM', () => {}); console.log('ready'); setInterval(() => {}, 1000);"],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      // A grandchild in a session of its own, which no process-group signal reaches.
      const shell = net.spawn(0, 'sh', ['-c', 'setsid sleep 300 & echo $!; wait'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const stubbornOut = stdoutOf(stubborn);
      const shellOut = stdoutOf(shell);
      await until('the stubborn process to ignore SIGTERM', 10_000, () =>
        stubbornOut().includes('ready') ? true : null,
      );
      const orphan = Number(await until('the orphan', 10_000, () => /^\d+\n/.exec(shellOut())?.[0] ?? null));
      assert.ok(running(orphan));

      assert.equal(net.destroy(), net.destroy());
      await Promise.all([net.destroy(), net.destroy()]);
      assert.deepEqual(await exited(sleeper), [null, 'SIGTERM']);
      assert.deepEqual(await exited(stubborn), [null, 'SIGKILL']);
      await exited(shell);
      await until('the orphan to end', 5_000, () => (running(orphan) ? null : true));
      assert.deepEqual(namespaces(net.switchName.replace(/sw$/, '')), []);
      assert.throws(() => net.spawn(0, 'true'), /destroyed/);
      await net.destroy();
    } finally {
      await net.destroy();
    }
  });

  it('emulations made at once get distinct subnets', async () => {
    const made = await Promise.allSettled([NetnsHosts.create({ hosts: 1 }), NetnsHosts.create({ hosts: 1 })]);
    try {
      const [a, b] = made.map((r) => (r.status === 'fulfilled' ? r.value : assert.fail(String(r.reason))));
      assert.notEqual(a!.subnet, b!.subnet);
      assert.notEqual(a!.hosts[0]!.address, b!.hosts[0]!.address);
    } finally {
      await Promise.all(made.map((r) => (r.status === 'fulfilled' ? r.value.destroy() : undefined)));
    }
  });
});
