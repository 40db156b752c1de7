/**
 * The child process of bench/data.ts's memory measurement, so that the resident memory it reports
 * is the streaming's alone: opens the shard corpus at URL (no shard cache), reads, verifies and
 * decodes every shard in turn through ShardCorpus.shards(), as training streams them, and prints
 * one JSON line (a {@link StreamReport}). Run with --expose-gc, it collects garbage after each
 * shard, so that its peak is what the stream keeps rather than what the collector has let pile up.
 *
 *   node [--expose-gc] --import tsx bench/stream-shards.ts http://HOST:PORT/corpus/
 */
import { readFileSync } from 'node:fs';

import { openShards } from '../core/data/shard-reader.js';

/** What the child prints. */
export interface StreamReport {
  /** Resident set once the manifest was read, before any shard (KiB). */
  readonly openRssKiB: number;
  /** Peak resident set of the child's whole life (KiB): {@link peakRssKiB}. */
  readonly peakRssKiB: number;
  /** The peak so far once each shard was decoded (KiB): how the peak grew along the stream. */
  readonly peakAfterShardKiB: readonly number[];
  readonly shards: number;
  readonly images: number;
  /** Shard bytes fetched over HTTP. */
  readonly bytes: number;
  /** From opening the corpus to the last shard decoded. */
  readonly seconds: number;
}

/**
 * This process's peak resident set (KiB): VmHWM of /proc/self/status. Not
 * process.resourceUsage().maxRSS: Linux carries ru_maxrss over from the parent's memory through
 * fork and exec, so a child of a large parent reports the parent's peak.
 */
function peakRssKiB(): number {
  const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  if (m === null) throw new Error('/proc/self/status has no VmHWM line (this measurement needs Linux)');
  return Number(m[1]);
}

async function stream(url: string): Promise<StreamReport> {
  const gc = (globalThis as { gc?: () => void }).gc;
  const started = performance.now();
  const corpus = await openShards(url);
  const openRssKiB = Math.round(process.memoryUsage.rss() / 1024);
  const peakAfterShardKiB: number[] = [];
  let images = 0;
  let bytes = 0;
  for await (const shard of corpus.shards()) {
    images += shard.images.count;
    bytes += corpus.manifest.shards[shard.index]!.bytes;
    gc?.();
    peakAfterShardKiB.push(peakRssKiB());
  }
  return {
    openRssKiB,
    peakRssKiB: peakRssKiB(),
    peakAfterShardKiB,
    shards: peakAfterShardKiB.length,
    images,
    bytes,
    seconds: (performance.now() - started) / 1000,
  };
}

const url = process.argv[2];
if (url === undefined) throw new Error('usage: stream-shards.ts URL');
console.log(JSON.stringify(await stream(url)));
