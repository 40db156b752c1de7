/**
 * Links that do not drop (issue 15): runs, N times in a row, the two loads that once lost a link
 * while every process was alive, and counts what broke.
 *
 *   node --import tsx bench/link-stress.ts [--runs 20] [--sizes 1,16] [--no-bench] [--no-job]
 *
 * - the 4-rank all-reduce bench (`bench/allreduce.ts --ours-only --worlds 4`: 4 rank processes on
 *   this machine's 2 cores, default and single-threaded GC), which fails when a rank's link breaks;
 * - a 4-worker `train --workers 4` job (the elastic tests' 64-16 autoencoder, 4 epochs, 200 steps),
 *   which survives a broken link by re-forming: a drop shows as a second generation or a recorded
 *   failure in summary.json.
 *
 * Prints one line per run and a count at the end; exits 1 if anything dropped.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { smallAeJob } from '../test/jobs.js';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

/** The last lines of a process's output, for the report of a failed run. */
const tail = (text: string): string => text.trim().split('\n').slice(-6).join('\n    ');

function benchRun(sizes: string): string | null {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', join(here, 'allreduce.ts'), '--ours-only', '--worlds', '4', '--sizes', sizes],
    { cwd: repo, encoding: 'utf8', timeout: 600_000 },
  );
  return r.status === 0 ? null : `bench exited ${r.status ?? r.signal}:\n    ${tail(r.stderr + r.stdout)}`;
}

function jobRun(): string | null {
  const out = mkdtempSync(join(tmpdir(), 'harmonium-link-stress-'));
  try {
    const r = spawnSync(
      process.execPath,
      [
        join(repo, 'cli', 'harmonium.mjs'),
        'train',
        ...smallAeJob(4, { logEvery: 10 }),
        '--workers',
        '4',
        '--out',
        out,
      ],
      { cwd: repo, encoding: 'utf8', timeout: 600_000 },
    );
    if (r.status !== 0) return `train exited ${r.status ?? r.signal}:\n    ${tail(r.stderr + r.stdout)}`;
    const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')) as {
      failures: unknown[];
      generations: unknown[];
    };
    if (s.failures.length > 0 || s.generations.length !== 1) {
      return `job re-formed: ${s.generations.length} generations, failures ${JSON.stringify(s.failures)}`;
    }
    return null;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

const runs = Number(arg('runs', '20'));
const sizes = arg('sizes', '1,16');
const loads: Array<[string, () => string | null]> = [];
if (!process.argv.includes('--no-bench')) loads.push(['4-rank bench', () => benchRun(sizes)]);
if (!process.argv.includes('--no-job')) loads.push(['4-worker job', jobRun]);
let dropped = 0;
for (let i = 1; i <= runs; i++) {
  for (const [name, run] of loads) {
    const started = performance.now();
    const problem = run();
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    if (problem !== null) dropped++;
    console.log(
      `run ${i}/${runs} ${name}: ${problem === null ? 'ok' : 'DROPPED'} (${seconds} s)${problem ? `\n    ${problem}` : ''}`,
    );
  }
}
console.log(`${dropped} of ${runs * loads.length} runs dropped a link`);
process.exitCode = dropped > 0 ? 1 : 0;
