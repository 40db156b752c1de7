/**
 * Where a submitted job writes: always inside the coordinator's runs directory (`--runs-dir`), so
 * no client can make the coordinator write over files elsewhere on its machine.
 */
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { ConfigError } from '../core/errors.js';

/**
 * The output directory of a job that asked for `out` (null: none, then `<model>`), under
 * `runsDir`. A relative `out` is taken from `runsDir`; an absolute one must lie inside it. Throws
 * ConfigError `out` for a path that leaves it (`..`, another absolute path) or names it itself.
 */
export function resolveRunOut(runsDir: string, out: string | null, model: string): string {
  const root = resolve(runsDir);
  const wanted = out ?? model;
  if (wanted.includes('\0')) throw new ConfigError('out', 'contains a NUL character');
  const path = isAbsolute(wanted) ? resolve(wanted) : resolve(join(root, wanted));
  const inside = relative(root, path);
  if (inside === '' || inside === '..' || inside.startsWith(`..${sep}`) || isAbsolute(inside)) {
    throw new ConfigError(
      'out',
      `${JSON.stringify(wanted)} is not a directory inside the coordinator's runs directory ${root}; ` +
        'give a relative path such as "ae"',
    );
  }
  return path;
}
