/**
 * What every benchmark here shares: its command-line options, medians and percentiles, and waiting
 * for a quiet machine (on 2 cores a test suite or a type check next to a benchmark would dominate
 * every number).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

/** A machine busier than this (share of all cores) with none of our processes running is not measured. */
const IDLE_BUSY_SHARE = 0.2;
const MAX_IDLE_WAITS = 30;

/** `text`, the value of `--name`, as an integer >= 1, or a RangeError naming the flag. */
export function positiveInt(name: string, text: string): number {
  const v = Number(text);
  if (!Number.isInteger(v) || v < 1)
    throw new RangeError(`--${name} must be a positive integer, got "${text}"`);
  return v;
}

/** The first line of an error's message, for a table cell or note. */
export function reason(err: unknown): string {
  return err instanceof Error ? err.message.split('\n')[0]! : String(err);
}

/** The value after `--name` on the command line, or `fallback`. */
export function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** The `p`-quantile (0..1) of `xs`, nearest rank. */
export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Busy share of all cores over `ms`, from /proc/stat (idle and iowait count as idle). */
export async function machineBusy(ms: number): Promise<number> {
  const times = (): { idle: number; total: number } => {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3]! + f[4]!, total: f.slice(0, 8).reduce((a, b) => a + b, 0) };
  };
  const a = times();
  await sleep(ms);
  const b = times();
  return 1 - (b.idle - a.idle) / Math.max(1, b.total - a.total);
}

/**
 * Waits, polling every 10 s, until no test run is active (pgrep finds neither pattern) and the
 * machine is nearly idle: other people's type checks and lint runs share these 2 cores too. After
 * MAX_IDLE_WAITS polls of a busy machine it goes on, saying so, rather than never measuring.
 */
export async function waitForQuiet(): Promise<void> {
  const patterns = ['scripts/run-tests.ts', 'node --import tsx --test'];
  let said = false;
  for (;;) {
    const busy = patterns.filter((p) => spawnSync('pgrep', ['-f', p]).status === 0);
    if (busy.length === 0) break;
    if (!said) console.log(`waiting for the test run to end (pgrep -f ${busy.join(', ')})...`);
    said = true;
    await sleep(10_000);
  }
  for (let i = 0; ; i++) {
    const busy = await machineBusy(2000);
    if (busy < IDLE_BUSY_SHARE) return;
    if (i === MAX_IDLE_WAITS) {
      console.log(`  (the machine stayed ${(busy * 100).toFixed(0)} % busy; measuring anyway)`);
      return;
    }
    if (i === 0) console.log(`  (waiting for the machine to be idle: ${(busy * 100).toFixed(0)} % busy)`);
    await sleep(8000);
  }
}

/** CPU seconds (user + system) process `pid` has used, from /proc/PID/stat. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of stat (utime, stime), counted from the state field (3).
  return (Number(f[11]) + Number(f[12])) / 100;
}
