/** A sharded corpus in a local directory: each shard read in one pass while it is hashed. */
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

import { MANIFEST_FILE } from './shard-manifest.js';
import type { ShardInfo } from './shard-manifest.js';
import type { ShardStore } from './shard-store.js';
import { DataError } from '../errors.js';

const READ_CHUNK = 1 << 20;

/**
 * Reads `path` fully, hashing as it goes; throws DataError DATA_CHECKSUM unless its size and sha256
 * match `info`, DATA_NOT_FOUND when it does not exist, IO otherwise.
 */
export async function readVerifiedFile(path: string, info: ShardInfo): Promise<Buffer> {
  let fh: FileHandle;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') {
      throw new DataError('DATA_NOT_FOUND', `${path}: shard file listed in ${MANIFEST_FILE} is missing`, {
        cause: err,
      });
    }
    throw new DataError('IO', `cannot open ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const size = (await fh.stat()).size;
    if (size !== info.bytes) {
      throw new DataError(
        'DATA_CHECKSUM',
        `${path}: size is ${size} bytes, ${MANIFEST_FILE} says ${info.bytes}`,
      );
    }
    const buf = Buffer.allocUnsafe(size);
    const hash = createHash('sha256');
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await fh.read(buf, pos, Math.min(READ_CHUNK, size - pos), pos);
      if (bytesRead === 0) {
        throw new DataError(
          'DATA_CHECKSUM',
          `${path}: file shrank while reading: ended at ${pos} of ${size} bytes`,
        );
      }
      hash.update(buf.subarray(pos, pos + bytesRead));
      pos += bytesRead;
    }
    const digest = hash.digest('hex');
    if (digest !== info.sha256) {
      throw new DataError(
        'DATA_CHECKSUM',
        `${path}: sha256 is ${digest}, ${MANIFEST_FILE} says ${info.sha256}`,
      );
    }
    return buf;
  } catch (err) {
    if (err instanceof DataError) throw err;
    throw new DataError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  } finally {
    await fh.close();
  }
}

/** The shards of a corpus directory. */
export class LocalShardStore implements ShardStore {
  constructor(readonly location: string) {}

  where(file: string): string {
    return join(this.location, file);
  }

  async readManifest(): Promise<string> {
    const path = this.where(MANIFEST_FILE);
    try {
      return await readFile(path, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') {
        throw new DataError(
          'DATA_NOT_FOUND',
          `${path}: no such file (is ${this.location} a sharded corpus?)`,
          {
            cause: err,
          },
        );
      }
      throw new DataError('IO', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
    }
  }

  readShard(info: ShardInfo): Promise<Buffer> {
    return readVerifiedFile(this.where(info.file), info);
  }
}
