/**
 * A bounded local cache of verified shards, by sha256, for corpora read over the network: later
 * epochs, and other jobs on the same node, read a shard from disk instead of fetching it again.
 * Files are written atomically; the least recently used are evicted so the cache stays within its
 * bound (one process at a time keeps it exactly; processes sharing a directory may briefly go over
 * by what they write at once). A cached file that no longer matches its sha256 is dropped and
 * fetched again.
 */
import { mkdir, readdir, rm, stat, utimes } from 'node:fs/promises';
import { join } from 'node:path';

import { writeFileAtomic } from './atomic-write.js';
import { readVerifiedFile } from './local-shard-store.js';
import type { ShardInfo } from './shard-manifest.js';
import { DataError } from '../errors.js';

const SUFFIX = '.shard';

/** Shards cached in `dir`, at most `maxBytes` of them. */
export class ShardCache {
  constructor(
    readonly dir: string,
    readonly maxBytes: number,
  ) {}

  private path(info: ShardInfo): string {
    return join(this.dir, `${info.sha256}${SUFFIX}`);
  }

  /** The shard's verified bytes if the cache holds them, else null. */
  async get(info: ShardInfo): Promise<Buffer | null> {
    const path = this.path(info);
    try {
      const buf = await readVerifiedFile(path, info);
      const now = new Date();
      // The modification time orders eviction: a hit makes the shard the most recently used.
      await utimes(path, now, now).catch(() => undefined);
      return buf;
    } catch (err) {
      if (err instanceof DataError && err.code === 'DATA_CHECKSUM') await rm(path, { force: true });
      else if (!(err instanceof DataError && err.code === 'DATA_NOT_FOUND')) throw err;
      return null;
    }
  }

  /** Keeps `data` (verified against `info`), evicting the least recently used shards to make room. */
  async put(info: ShardInfo, data: Buffer): Promise<void> {
    if (data.length > this.maxBytes) return;
    await mkdir(this.dir, { recursive: true });
    const entries = await this.entries();
    let total = entries.reduce((sum, e) => sum + e.bytes, 0);
    for (const e of entries) {
      if (total + data.length <= this.maxBytes) break;
      await rm(e.path, { force: true });
      total -= e.bytes;
    }
    await writeFileAtomic(this.path(info), data);
  }

  /** Bytes the cache holds now. */
  async bytes(): Promise<number> {
    return (await this.entries()).reduce((sum, e) => sum + e.bytes, 0);
  }

  /** The cached shards, least recently used first. */
  private async entries(): Promise<{ path: string; bytes: number; used: number }[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw new DataError('IO', `cannot list the shard cache ${this.dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    const found = await Promise.all(
      names
        .filter((n) => n.endsWith(SUFFIX))
        .map(async (n) => {
          const path = join(this.dir, n);
          // Another process may evict it between the listing and the stat.
          const s = await stat(path).catch(() => null);
          return s ? { path, bytes: s.size, used: s.mtimeMs } : null;
        }),
    );
    return found.filter((e) => e !== null).sort((a, b) => a.used - b.used);
  }
}
