/** What the config tests share: asserting the ConfigError a bad option gets. */
import assert from 'node:assert/strict';
import { ConfigError } from '../errors.js';

/** `fn` throws a ConfigError whose field matches `field` and whose message matches `message`. */
export function configError(fn: () => unknown, field: RegExp, message: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.match(err.field, field);
    assert.match(err.message, message);
    return true;
  });
}
