/**
 * Layering rules that the import graph must keep: the coordinator, the collectives and the job-config
 * compiler never load TensorFlow.js (a coordinator runs on machines without it and compiles the jobs
 * submitted to it; collectives work on Float32Array).
 * Follows value imports only: `import type` is erased and loads nothing.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { it } from 'node:test';

const ROOT = resolve(import.meta.dirname, '..');

/** Module specifiers a file loads at run time (static and dynamic value imports, re-exports). */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re =
    /^\s*(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'|import\(\s*'([^']+)'\s*\)|^\s*import\s+'([^']+)'/gms;
  for (const m of text.matchAll(re)) {
    if (m[2]) continue;
    out.push((m[3] ?? m[4] ?? m[5])!);
  }
  return out;
}

/** Every module reachable from `entry`, as paths relative to the root or package names. */
function reachable(entry: string): Map<string, string> {
  const seen = new Map<string, string>([[entry, '(entry)']]);
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    for (const spec of valueImports(file)) {
      const target = spec.startsWith('.') ? resolve(dirname(file), spec.replace(/\.js$/, '.ts')) : spec;
      if (seen.has(target)) continue;
      seen.set(target, relative(ROOT, file));
      if (spec.startsWith('.')) queue.push(target);
    }
  }
  return seen;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir))
    .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
    .map((f) => join(ROOT, dir, f));
}

for (const dir of [
  'coordinator',
  'core/collective',
  'core/config',
  'core/control-plane',
  'core/elastic',
  'core/job-page',
  'core/metrics',
  'core/report',
  'core/security',
]) {
  it(`${dir} never loads TensorFlow.js`, () => {
    for (const entry of sources(dir)) {
      const bad = [...reachable(entry)].filter(([mod]) => mod.startsWith('@tensorflow/'));
      assert.deepEqual(
        bad.map(([mod, from]) => `${mod} imported by ${from}`),
        [],
        `${relative(ROOT, entry)} reaches TensorFlow.js`,
      );
    }
  });
}
