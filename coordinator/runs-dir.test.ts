import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError } from '../core/errors.js';
import { resolveRunOut } from './runs-dir.js';

const ROOT = '/srv/harmonium/runs';

describe('resolveRunOut', () => {
  it('puts a relative out, or the model name, under the runs directory', () => {
    assert.equal(resolveRunOut(ROOT, 'ae', 'ae'), join(ROOT, 'ae'));
    assert.equal(resolveRunOut(ROOT, 'team/exp-1/./run', 'ae'), join(ROOT, 'team/exp-1/run'));
    assert.equal(resolveRunOut(ROOT, null, 'vae'), join(ROOT, 'vae'));
    assert.equal(resolveRunOut(ROOT, 'a/../b', 'ae'), join(ROOT, 'b'));
    assert.equal(resolveRunOut(ROOT, '..x', 'ae'), join(ROOT, '..x'));
    assert.equal(resolveRunOut(ROOT, `${ROOT}/abs`, 'ae'), join(ROOT, 'abs'));
  });

  it('refuses every path that leaves it, or that is the directory itself', () => {
    for (const out of [
      '../elsewhere',
      'a/../../b',
      '/etc',
      '/srv/harmonium/runs-other/x',
      '.',
      ROOT,
      'a\0b',
    ]) {
      assert.throws(
        () => resolveRunOut(ROOT, out, 'ae'),
        (err: unknown) => err instanceof ConfigError && err.field === 'out',
        out,
      );
    }
  });
});
