/**
 * A child process for the streaming-memory test: opens the shard corpus at the URL in argv (no
 * cache), streams every shard through ShardCorpus.shards() as training does, collecting garbage
 * after each so that what is measured is what the stream keeps, and prints its peak resident set
 * in KiB. Run with `node --expose-gc --import tsx`.
 */
import { readFileSync } from 'node:fs';

import { openShards } from './shard-reader.js';

/** Peak resident set (VmHWM): not ru_maxrss, which a child inherits from its parent's peak. */
function peakKiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error('/proc/self/status has no VmHWM line');
  return Number(m[1]);
}

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with --expose-gc');
const corpus = await openShards(process.argv[2]!, { cache: null });
let images = 0;
for await (const shard of corpus.shards()) {
  images += shard.images.count;
  gc();
}
console.log(JSON.stringify({ peakKiB: peakKiB(), images }));
