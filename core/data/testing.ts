/** Helpers for the data tests (not used by the library). */
import assert from 'node:assert/strict';
import { DataError } from '../errors.js';

/** An `assert.throws` / `assert.rejects` validator: a DataError with this code and a matching message. */
export function isDataError(code: string, pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  };
}

/** An IDX file's bytes: magic (type, rank), big-endian dimensions, then `data`. */
export function idx(dims: readonly number[], data: Uint8Array, type = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}
