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
