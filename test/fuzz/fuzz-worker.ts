/**
 * The worker thread that runs fuzz targets (started by fuzz-session.ts): for each target named in
 * its workerData, the corpus first, then `numRuns` generated cases from `seed`. Before each case
 * it copies the input into the shared buffer and counts it, so that the session can tell a hang
 * and still knows the input that caused it.
 */
import { parentPort, workerData } from 'node:worker_threads';

import fc from 'fast-check';

import { readCorpus } from './corpus.js';
import { checkCase, type FuzzTarget } from './fuzz-target.js';
import type { FuzzOptions, TargetReport } from './fuzz-session.js';
import { TARGETS } from './targets.js';

const { options, shared } = workerData as { options: FuzzOptions; shared: SharedArrayBuffer };
const header = new Int32Array(shared, 0, 2);
const bytes = new Uint8Array(shared, 8);

function record(input: Uint8Array): void {
  if (input.length <= bytes.length) bytes.set(input);
  header[1] = input.length <= bytes.length ? input.length : -1;
  Atomics.add(header, 0, 1);
}

/** `err`'s message and, for a decoder's own exception, where it was thrown. */
function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error ? `\n  ${err.cause.stack ?? String(err.cause)}` : '';
  return `${err.message}${cause.split('\n').slice(0, 8).join('\n')}`;
}

async function fuzz(target: FuzzTarget): Promise<TargetReport> {
  const start = performance.now();
  const report = (cases: number, failure: TargetReport['failure'] = null): TargetReport => ({
    name: target.name,
    cases,
    ms: performance.now() - start,
    failure,
  });
  const check = async (input: Uint8Array): Promise<void> => {
    record(input);
    await checkCase(target, input);
  };
  const corpus = options.replayCorpus ? readCorpus(target.name) : [];
  for (const file of corpus) {
    try {
      await check(file.bytes);
    } catch (err) {
      return report(0, {
        message: `${file.path}: ${describe(err)}`,
        input: null,
      });
    }
  }
  const details = await fc.check(fc.asyncProperty(target.arbitrary(target.seeds()), check), {
    seed: options.seed,
    numRuns: options.numRuns,
  });
  if (!details.failed) return report(corpus.length + details.numRuns);
  const input = details.counterexample?.[0] ?? new Uint8Array(0);
  return report(corpus.length + details.numRuns, {
    message: `${describe(details.errorInstance)}\n  (case ${details.numRuns} of seed ${options.seed}, shrunk to ${input.length} bytes)`,
    input,
  });
}

for (const name of options.targets) {
  const target = TARGETS.find((t) => t.name === name);
  if (!target) throw new Error(`no fuzz target ${name}`);
  parentPort!.postMessage(await fuzz(target));
}
