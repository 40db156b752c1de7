/**
 * Where a sharded corpus's bytes come from: a local directory (local-shard-store.ts) or an HTTP(S)
 * server (http-shard-store.ts). A store hands out each shard only once its size and sha256 match
 * the manifest, so nothing downstream ever decodes unverified bytes.
 */
import type { ShardInfo } from './shard-manifest.js';

/** Largest manifest.json a store reads (the manifest of 10M images in 10k shards is about 1.5 MB). */
export const MAX_MANIFEST_BYTES = 64 << 20;

/** The shard files and manifest of one corpus. */
export interface ShardStore {
  /** The corpus as the user named it: a directory or a URL. */
  readonly location: string;
  /** Where `file` (a name from the manifest) is, for messages: a path or a URL. */
  where(file: string): string;
  /** The manifest's text; DataError DATA_NOT_FOUND when the corpus has none. */
  readManifest(): Promise<string>;
  /**
   * Shard `info`'s bytes, checked against the manifest's size and sha256: DataError DATA_CHECKSUM
   * naming the file or URL otherwise, DATA_NOT_FOUND when it is missing.
   */
  readShard(info: ShardInfo): Promise<Buffer>;
}
