/**
 * Writes a file under a temporary name in the same directory and renames it into place, so a
 * reader (or a crashed writer's successor) never sees a half-written shard, manifest or download.
 */
import { randomBytes } from 'node:crypto';
import { rm, writeFile, rename } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

import { DataError } from '../errors.js';

/**
 * Atomically replaces `path` with `data`. Throws DataError IO naming `path` on failure, after
 * removing the temporary file.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  // The random suffix only keeps concurrent writers apart; it never affects content.
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  try {
    await writeFile(tmp, data);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new DataError('IO', `cannot write ${path}: ${(err as Error).message}`, { cause: err });
  }
}
