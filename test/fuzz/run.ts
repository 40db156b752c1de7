/**
 * `npm run fuzz [-- --runs N] [--seed S] [target...]`: a long fuzz run of every target (or those
 * named), corpus first. The seed is random unless given, and printed, so that a run can be
 * repeated; an input that fails is added to the target's corpus, so that `npm test` replays it.
 */
import { parseArgs } from 'node:util';

import { addToCorpus } from './corpus.js';
import { startFuzz } from './fuzz-session.js';
import { TARGETS } from './targets.js';

const { values, positionals } = parseArgs({
  options: { runs: { type: 'string', default: '20000' }, seed: { type: 'string' } },
  allowPositionals: true,
});
const numRuns = Number(values.runs);
const seed = values.seed === undefined ? (Math.random() * 2 ** 31) | 0 : Number(values.seed);
const known = TARGETS.map((t) => t.name);
const unknown = positionals.filter((p) => !known.includes(p));
if (!Number.isSafeInteger(numRuns) || numRuns < 1 || !Number.isSafeInteger(seed) || unknown.length > 0) {
  console.error(
    `usage: npm run fuzz -- [--runs N] [--seed S] [target...]; targets: ${known.join(', ')}` +
      (unknown.length > 0 ? `; unknown: ${unknown.join(', ')}` : ''),
  );
  process.exit(2);
}
const targets = positionals.length > 0 ? positionals : known;
console.log(`fuzzing ${targets.join(', ')}: ${numRuns} cases each, seed ${seed}`);

const session = startFuzz({ targets, seed, numRuns, replayCorpus: true });
let failed = false;
for (const name of targets) {
  const r = await session.report(name);
  if (r.failure === null) {
    console.log(`ok   ${name}: ${r.cases} cases in ${(r.ms / 1000).toFixed(1)} s`);
    continue;
  }
  failed = true;
  console.log(`FAIL ${name}: ${r.failure.message}`);
  if (r.failure.input !== null) {
    console.log(`     input saved as ${addToCorpus(name, 'crash', r.failure.input)}`);
  }
}
await session.done;
process.exit(failed ? 1 : 0);
