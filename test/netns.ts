/**
 * Several hosts on one machine, for tests and benchmarks of a cluster: each host is a Linux network
 * namespace with an `eth0` (10.77.K.N/24) joined by a veth pair to a bridge in a "switch" namespace,
 * and its link can be shaped (a rate with tbf; a delay and a loss with netem where the kernel has
 * it). The root namespace's network is never touched: every interface, address and bridge lives in
 * a namespace made here, so tests bind 127.0.0.1 or the hosts' own addresses.
 *
 * Needs root and iproute2 (`ip`, `tc`). Namespaces are named `hm-<pid>-<K>-h<i>` and
 * `hm-<pid>-<K>-sw`: K is the subnet's third octet, allocated from the namespaces that exist, and the
 * creator's pid lets a later creator remove what a killed one left ({@link sweepStale}). Name files
 * go to /etc/netns/NAME/ (removed with the namespace; /etc/netns itself, iproute2's, stays).
 *
 * Measured on the development machine (2 cores, kernel 6.18, iproute2 6.1), means of 10 with 1000
 * Mbit/s links: 4 hosts create in 150 ms and destroy in 35 ms; 8 hosts in 285 ms and 70 ms. Each
 * `ip` / `tc` command is its own process (about 3 ms), for an error that names the one that failed.
 */
import {
  execFile,
  execFileSync,
  spawn,
  spawnSync,
  type ChildProcess,
  type SpawnOptions,
} from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIPv4 } from 'node:net';
import { join } from 'node:path';
import { ConfigError, HarmoniumError } from '../core/errors.js';

/** The first characters of every namespace (and /etc/netns folder) made here. */
export const NETNS_PREFIX = 'hm-';

const unusable: string | false =
  process.getuid?.() !== 0
    ? 'network namespaces need root'
    : spawnSync('ip', ['-V']).status !== 0
      ? '`ip` is not installed (apt-get install iproute2)'
      : false;
/**
 * Why network-namespace tests cannot run here, or false. CI runs as root and installs iproute2:
 * there they must run, never skip.
 */
export const netnsSkip: string | false = process.env['CI'] ? false : unusable;

/** How long one `ip` / `tc` command may take before it counts as failed. */
const COMMAND_TIMEOUT_MS = 10_000;
/** Where `ip netns exec` looks for the files it mounts over /etc (`hosts` here). */
const ETC_NETNS = '/etc/netns';
const OWNED = /^hm-(\d+)-/;
/** `hm-<pid>-<K>-...`: K, the subnet's third octet. */
const SUBNET_INDEX = /^hm-\d+-(\d+)-/;

/** A host link's shaping; every field is optional. */
export interface LinkShape {
  /** Rate in Mbit/s, each way (tbf on the host's egress and on the switch's port towards it). */
  readonly rateMbit?: number;
  /** Delay in ms added to every packet the host sends (netem): a round trip i-j gets both hosts'. */
  readonly delayMs?: number;
  /** Share of the packets the host sends that are dropped, in percent (netem). */
  readonly lossPercent?: number;
}

export interface NetnsOptions extends LinkShape {
  /** How many hosts (1..253). */
  readonly hosts: number;
  /** Per-host shaping by index, each field replacing the shared one above. */
  readonly links?: readonly LinkShape[];
  /** How long {@link NetnsHosts.destroy} waits after SIGTERM before SIGKILL (ms, default 1000). */
  readonly killGraceMs?: number;
}

/** One emulated host. */
export interface EmulatedHost {
  readonly index: number;
  /** Its network namespace. */
  readonly name: string;
  /** Its eth0 address (IPv4, no prefix length). */
  readonly address: string;
  readonly link: LinkShape;
}

/** An `ip` or `tc` command that failed or ran past its deadline; names the namespace and its stderr. */
export class NetnsError extends HarmoniumError {
  constructor(
    readonly namespace: string,
    readonly command: string,
    readonly stderr: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('IO', `${namespace}: \`${command}\` ${message}`, options);
  }
}

/** Whether netem can be used, and if not why (from the kernel's answer). */
export type NetemProbe =
  { readonly available: true } | { readonly available: false; readonly reason: string };

/** Runs `file args` for the namespace `ns` (named in the error) within the command deadline. */
function run(ns: string, file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      file,
      args,
      { timeout: COMMAND_TIMEOUT_MS, killSignal: 'SIGKILL', encoding: 'utf8' },
      (err, stdout, stderr) => {
        if (err === null) return resolve(stdout);
        const cmd = [file, ...args].join(' ');
        const why = err.killed
          ? `gave no answer within ${COMMAND_TIMEOUT_MS} ms`
          : `failed: ${stderr.trim() || err.message}`;
        reject(new NetnsError(ns, cmd, stderr.trim(), why, { cause: err }));
      },
    );
  });
}

/** Every network namespace, by name. */
async function listNamespaces(): Promise<string[]> {
  const out = await run('(all)', 'ip', ['netns', 'list']);
  // Lines read `NAME` or `NAME (id: N)`.
  return out
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n !== '');
}

/** Whether `pid` can still act: a zombie cannot clean up after itself either. */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat[stat.lastIndexOf(')') + 2] !== 'Z';
  } catch {
    return false;
  }
}

function ownerPid(name: string): number | null {
  const m = OWNED.exec(name);
  return m === null ? null : Number(m[1]);
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // It ended already.
  }
}

function pidsOf(out: string): number[] {
  return out
    .split('\n')
    .filter((l) => /^\d+$/.test(l))
    .map(Number);
}

/**
 * SIGKILLs whatever still runs in `ns` and deletes it with its /etc/netns folder; a namespace that
 * is gone already (another sweeper, a half-made one) is no error.
 */
async function removeNamespace(ns: string): Promise<void> {
  try {
    for (const pid of pidsOf(await run(ns, 'ip', ['netns', 'pids', ns]))) killQuietly(pid, 'SIGKILL');
    await run(ns, 'ip', ['netns', 'del', ns]);
  } catch (err) {
    if ((await listNamespaces()).includes(ns)) throw err;
  }
  rmSync(join(ETC_NETNS, ns), { recursive: true, force: true });
}

/**
 * Removes the namespaces and /etc/netns folders named with {@link NETNS_PREFIX} whose creator is no
 * longer alive (one killed with SIGKILL), after SIGKILLing the processes left in them; returns the
 * namespaces removed. A recycled pid keeps its predecessor's leftovers until it ends too.
 */
export async function sweepStale(): Promise<string[]> {
  const stale = (await listNamespaces()).filter((n) => {
    const pid = ownerPid(n);
    return pid !== null && !alive(pid);
  });
  for (const ns of stale) await removeNamespace(ns);
  let dirs: string[] = [];
  try {
    dirs = readdirSync(ETC_NETNS);
  } catch {
    // No /etc/netns: nothing was ever written there.
  }
  for (const d of dirs) {
    const pid = ownerPid(d);
    if (pid !== null && !alive(pid)) rmSync(join(ETC_NETNS, d), { recursive: true, force: true });
  }
  return stale;
}

let netemProbe: Promise<NetemProbe> | null = null;

/**
 * Whether the kernel has netem (sch_netem), asked once per process by adding a netem qdisc to `lo`
 * in a namespace made for the question; never throws.
 */
export function netemAvailable(): Promise<NetemProbe> {
  netemProbe ??= (async (): Promise<NetemProbe> => {
    const ns = `${NETNS_PREFIX}${process.pid}-netem-probe`;
    const why = (err: unknown): string =>
      err instanceof NetnsError ? err.stderr || err.message : String(err);
    try {
      await run(ns, 'ip', ['netns', 'add', ns]);
    } catch (err) {
      return { available: false, reason: `no namespace to ask the kernel in: ${why(err)}` };
    }
    try {
      await run(ns, 'tc', ['-n', ns, 'qdisc', 'add', 'dev', 'lo', 'root', 'netem', 'delay', '1ms']);
      return { available: true };
    } catch (err) {
      return { available: false, reason: `the kernel has no sch_netem module (tc: ${why(err)})` };
    } finally {
      await removeNamespace(ns).catch(() => undefined);
    }
  })();
  return netemProbe;
}

/** Subnet indices this process is allocating or holds; other processes' show in the names. */
const heldIndices = new Set<number>();
/** Emulations not yet destroyed, for the exit and signal hooks. */
const live = new Set<NetnsHosts>();
let signalled = false;

/**
 * On 'exit' (synchronous: SIGKILL, delete) every live emulation is removed. On SIGINT / SIGTERM:
 * if the program listens for the signal itself, it decides what happens and we do nothing (when it
 * exits, 'exit' cleans up); if ours is the only listener (whose presence stops Node's default
 * action), we destroy every emulation, remove our listener and raise the signal again, so the
 * process ends as that signal's default would and the parent sees the signal. A second signal
 * during that cleanup does it synchronously and re-raises at once.
 */
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  const reraise = (): void => {
    uninstallHooks();
    process.kill(process.pid, signal);
  };
  if (signalled) {
    onExit();
    reraise();
    return;
  }
  signalled = true;
  void Promise.allSettled([...live].map((n) => n.destroy())).then(reraise);
}

function onExit(): void {
  for (const n of live) n.destroySync();
}

function installHooks(): void {
  if (live.size > 0) return;
  process.on('exit', onExit);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}

function uninstallHooks(): void {
  process.removeListener('exit', onExit);
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function checkShape(shape: LinkShape, where: string): void {
  const { rateMbit, delayMs, lossPercent } = shape;
  // tc takes the rate in whole kbit/s.
  if (rateMbit !== undefined && !(Number.isFinite(rateMbit) && rateMbit >= 0.001))
    throw new ConfigError(`${where}rateMbit`, `must be a number of Mbit/s >= 0.001, not ${rateMbit}`);
  if (delayMs !== undefined && !(Number.isFinite(delayMs) && delayMs >= 0))
    throw new ConfigError(`${where}delayMs`, `must be a number of ms >= 0, not ${delayMs}`);
  if (lossPercent !== undefined && !(lossPercent >= 0 && lossPercent <= 100))
    throw new ConfigError(`${where}lossPercent`, `must be within 0..100, not ${lossPercent}`);
}

/**
 * tbf arguments for `rateMbit`. The bucket holds 1 ms at the rate and at least 64 KiB: a 64 KiB GSO
 * packet from a veth passes whole, and at 1-10 Gbit/s a watchdog timer that fires up to 1 ms late
 * loses no tokens. `latency 20ms` bounds the queue (rate x 20 ms + bucket): long enough that TCP
 * keeps the link busy, short enough not to add seconds of bufferbloat. Measured here with one TCP
 * stream: 100 → 96, 1000 → 956, 5000 → 4760 Mbit/s (an unshaped veth: about 9 Gbit/s).
 */
function tbfArgs(rateMbit: number): string[] {
  const burst = Math.max(64 * 1024, Math.ceil(rateMbit * 125));
  return ['tbf', 'rate', `${Math.round(rateMbit * 1000)}kbit`, 'burst', String(burst), 'latency', '20ms'];
}

function netemArgs(shape: LinkShape): string[] {
  const args = ['netem'];
  if ((shape.delayMs ?? 0) > 0) args.push('delay', `${shape.delayMs}ms`);
  if ((shape.lossPercent ?? 0) > 0) args.push('loss', `${shape.lossPercent}%`);
  return args;
}

const needsNetem = (s: LinkShape): boolean => (s.delayMs ?? 0) > 0 || (s.lossPercent ?? 0) > 0;

/**
 * N emulated hosts on one bridge. Commands run in a host through {@link NetnsHosts.spawn};
 * {@link NetnsHosts.destroy} (or the process's exit, SIGINT or SIGTERM) removes everything.
 */
export class NetnsHosts {
  readonly hosts: readonly EmulatedHost[];
  /** The namespace holding the bridge `br0` and the hosts' ports `v<i>`. */
  readonly switchName: string;
  /** The hosts' subnet, `10.77.K.0/24`. */
  readonly subnet: string;
  /** Namespaces asked for, in order (a half-made one included): what teardown removes. */
  private readonly made: string[] = [];
  private readonly children = new Set<ChildProcess>();
  private destroying: Promise<void> | null = null;
  /** The creation steps under way, which teardown lets finish (each stops once it sees teardown). */
  private building: Promise<void> = Promise.resolve();

  private constructor(
    index: number,
    links: readonly LinkShape[],
    private readonly killGraceMs: number,
  ) {
    const base = `${NETNS_PREFIX}${process.pid}-${index}`;
    this.switchName = `${base}-sw`;
    this.subnet = `10.77.${index}.0/24`;
    this.hosts = links.map((link, i) => ({
      index: i,
      name: `${base}-h${i}`,
      address: `10.77.${index}.${i + 1}`,
      link,
    }));
  }

  /**
   * Makes the hosts, after removing what dead creators left ({@link sweepStale}). Throws
   * ConfigError for options out of range and for a delay or loss where the kernel has no netem,
   * NetnsError when a command fails (what was made is removed first).
   */
  static async create(opts: NetnsOptions): Promise<NetnsHosts> {
    if (!Number.isInteger(opts.hosts) || opts.hosts < 1 || opts.hosts > 253)
      throw new ConfigError('hosts', `must be an integer within 1..253, not ${opts.hosts}`);
    if (opts.links !== undefined && opts.links.length > opts.hosts)
      throw new ConfigError('links', `has ${opts.links.length} entries for ${opts.hosts} hosts`);
    const killGraceMs = opts.killGraceMs ?? 1000;
    if (!(Number.isFinite(killGraceMs) && killGraceMs >= 0))
      throw new ConfigError('killGraceMs', `must be a number of ms >= 0, not ${killGraceMs}`);
    checkShape(opts, '');
    const links = Array.from({ length: opts.hosts }, (_, i): LinkShape => {
      const own = opts.links?.[i] ?? {};
      checkShape(own, `links[${i}].`);
      return {
        rateMbit: own.rateMbit ?? opts.rateMbit,
        delayMs: own.delayMs ?? opts.delayMs,
        lossPercent: own.lossPercent ?? opts.lossPercent,
      };
    });
    const netemUser = links.findIndex(needsNetem);
    if (netemUser >= 0) {
      const probe = await netemAvailable();
      if (!probe.available) {
        const field = (links[netemUser]!.delayMs ?? 0) > 0 ? 'delayMs' : 'lossPercent';
        const where = opts.links?.[netemUser]?.[field] !== undefined ? `links[${netemUser}].` : '';
        throw new ConfigError(`${where}${field}`, `needs netem: ${probe.reason}`);
      }
    }
    await sweepStale();
    const net = await NetnsHosts.allocate(links, killGraceMs);
    net.building = net.build();
    try {
      await net.building;
    } catch (err) {
      await net.destroy().catch(() => undefined);
      throw err;
    }
    return net;
  }

  /**
   * Takes the lowest subnet index no namespace uses by making the switch namespace with it. Two
   * creators may take the same index at once: each then looks again, and one that sees another
   * creator's namespace with its index gives it up and tries the next (at least one of two racing
   * creators sees the other, so no index ends up held twice).
   */
  private static async allocate(links: readonly LinkShape[], killGraceMs: number): Promise<NetnsHosts> {
    // The subnet indices in `names`, but for those of the namespaces starting with `mine`.
    const used = (names: readonly string[], mine: string | null): Set<number> => {
      const out = new Set<number>();
      for (const n of names) {
        const m = SUBNET_INDEX.exec(n);
        if (m !== null && (mine === null || !n.startsWith(mine))) out.add(Number(m[1]));
      }
      return out;
    };
    for (let attempt = 0; attempt < 8; attempt++) {
      const taken = used(await listNamespaces(), null);
      let index = 0;
      while (index < 256 && (taken.has(index) || heldIndices.has(index))) index++;
      if (index === 256) break;
      heldIndices.add(index);
      const net = new NetnsHosts(index, links, killGraceMs);
      installHooks();
      live.add(net);
      net.building = net.addNamespace(net.switchName);
      try {
        await net.building;
      } catch (err) {
        await net.destroy().catch(() => undefined);
        throw err;
      }
      const mine = `${NETNS_PREFIX}${process.pid}-${index}-`;
      if (!used(await listNamespaces(), mine).has(index)) return net;
      await net.destroy();
      // Racing creators back off by different amounts.
      await sleep(process.pid % 50);
    }
    throw new ConfigError('hosts', 'no free subnet index: 256 emulations exist (see `ip netns list`)');
  }

  private async addNamespace(ns: string): Promise<void> {
    // A signal's teardown may begin while create() runs: stop making what it would not remove.
    if (this.destroying !== null) throw new Error(`${ns}: the emulation was destroyed while being made`);
    this.made.push(ns);
    await run(ns, 'ip', ['netns', 'add', ns]);
    await run(ns, 'ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
  }

  private async build(): Promise<void> {
    const sw = this.switchName;
    await run(sw, 'ip', ['-n', sw, 'link', 'add', 'br0', 'type', 'bridge']);
    await run(sw, 'ip', ['-n', sw, 'link', 'set', 'br0', 'up']);
    for (const h of this.hosts) {
      const port = `v${h.index}`;
      await this.addNamespace(h.name);
      await run(h.name, 'ip', [
        '-n',
        h.name,
        'link',
        'add',
        'eth0',
        'type',
        'veth',
        'peer',
        'name',
        port,
        'netns',
        sw,
      ]);
      await run(h.name, 'ip', ['-n', h.name, 'addr', 'add', `${h.address}/24`, 'dev', 'eth0']);
      await run(h.name, 'ip', ['-n', h.name, 'link', 'set', 'eth0', 'up']);
      await run(sw, 'ip', ['-n', sw, 'link', 'set', port, 'master', 'br0', 'up']);
      await this.shape(h.name, 'eth0', h.link, true);
      await this.shape(sw, port, h.link, false);
    }
  }

  /** Shapes `dev`'s egress: tbf for the rate, netem (under tbf when both) on the host's side only. */
  private async shape(ns: string, dev: string, link: LinkShape, hostSide: boolean): Promise<void> {
    const netem = hostSide && needsNetem(link);
    const tc = (args: readonly string[]): Promise<string> =>
      run(ns, 'tc', ['-n', ns, 'qdisc', 'add', 'dev', dev, ...args]);
    if (link.rateMbit !== undefined) {
      await tc(['root', 'handle', '1:', ...tbfArgs(link.rateMbit)]);
      if (netem) await tc(['parent', '1:1', 'handle', '10:', ...netemArgs(link)]);
    } else if (netem) {
      await tc(['root', 'handle', '1:', ...netemArgs(link)]);
    }
  }

  private host(i: number): EmulatedHost {
    const h = this.hosts[i];
    if (h === undefined) throw new RangeError(`no host ${i}: there are ${this.hosts.length}`);
    if (this.destroying !== null) throw new Error(`${h.name}: the emulation was destroyed`);
    return h;
  }

  /**
   * Runs `command args` in host `i` through `ip netns exec` (which execs it, so the child's pid is
   * the command's). `ip netns exec` also gives the command its own mount namespace in which each
   * file of /etc/netns/NAME/ is bind-mounted over /etc (see {@link setHosts}). The child leads its
   * own process group (`detached` is forced) so that destroy can signal everything it started.
   */
  spawn(i: number, command: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const h = this.host(i);
    const child = spawn('ip', ['netns', 'exec', h.name, command, ...args], { ...options, detached: true });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  /**
   * Writes /etc/netns/NAME/hosts for every host, with localhost and `names` (hostname → IPv4), so
   * commands spawned from now on resolve the names; `ip netns exec` mounts it over /etc/hosts.
   */
  setHosts(names: Readonly<Record<string, string>>): void {
    const lines = ['127.0.0.1 localhost', '::1 localhost'];
    for (const [name, address] of Object.entries(names)) {
      if (!/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(name))
        throw new ConfigError('setHosts', `${JSON.stringify(name)} is not a hostname`);
      if (!isIPv4(address))
        throw new ConfigError(`setHosts.${name}`, `${JSON.stringify(address)} is not IPv4`);
      lines.push(`${address} ${name}`);
    }
    for (let i = 0; i < this.hosts.length; i++) {
      const dir = join(ETC_NETNS, this.host(i).name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'hosts'), lines.join('\n') + '\n');
    }
  }

  /**
   * Stops what {@link spawn} started (SIGTERM to each process group, SIGKILL after the grace),
   * SIGKILLs anything else left in the namespaces, deletes them and their /etc/netns folders. Later
   * calls return the first call's promise.
   */
  destroy(): Promise<void> {
    this.destroying ??= this.teardown();
    return this.destroying;
  }

  private async teardown(): Promise<void> {
    await this.building.catch(() => undefined);
    const running = [...this.children].filter((c) => c.exitCode === null && c.signalCode === null);
    const group = (c: ChildProcess, signal: NodeJS.Signals): void => {
      if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) killQuietly(-c.pid, signal);
    };
    if (running.length > 0) {
      for (const c of running) group(c, 'SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all(running.map((c) => new Promise((r) => c.once('exit', r)))),
        new Promise((r) => (timer = setTimeout(r, this.killGraceMs))),
      ]);
      clearTimeout(timer);
      for (const c of running) group(c, 'SIGKILL');
    }
    let failure: unknown = null;
    // In reverse: each host's veth pair goes with its namespace, the bridge last with the switch's.
    for (const ns of [...this.made].reverse()) {
      try {
        await removeNamespace(ns);
      } catch (err) {
        failure ??= err;
      }
    }
    this.release();
    if (failure !== null) throw failure;
  }

  /** What the 'exit' hook does: {@link destroy} without waiting, SIGKILL at once. */
  destroySync(): void {
    this.destroying ??= Promise.resolve();
    for (const c of this.children) if (c.pid !== undefined) killQuietly(-c.pid, 'SIGKILL');
    const sync = (args: readonly string[], input?: string): string => {
      try {
        return execFileSync('ip', args, {
          timeout: COMMAND_TIMEOUT_MS,
          encoding: 'utf8',
          input,
          stdio: 'pipe',
        });
      } catch {
        // Exiting: nothing to report to; what remains the next creator sweeps.
        return '';
      }
    };
    for (const ns of this.made)
      for (const pid of pidsOf(sync(['netns', 'pids', ns]))) killQuietly(pid, 'SIGKILL');
    sync(['-force', '-batch', '-'], this.made.map((ns) => `netns del ${ns}\n`).join(''));
    for (const ns of this.made) rmSync(join(ETC_NETNS, ns), { recursive: true, force: true });
    this.release();
  }

  private release(): void {
    heldIndices.delete(Number(SUBNET_INDEX.exec(this.switchName)![1]));
    live.delete(this);
    if (live.size === 0) uninstallHooks();
  }
}
