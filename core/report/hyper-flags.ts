/**
 * A run's hyperparameters as the command-line flags that would set them (`--layers 64,16 --tied`),
 * in summary.json's order: what `harmonium train` parses back (core/config/job-config.ts,
 * parseFlags: `--name value`, `--name` for true, `--no-name` for false, lists comma-separated).
 */
import type { HyperValue } from './run-summary.js';

/** `{layers: [64, 16], tied: false, loss: 'mse'}` → "--layers 64,16 --no-tied --loss mse". */
export function hyperFlags(hyper: Readonly<Record<string, HyperValue>>): string {
  return Object.entries(hyper)
    .map(([name, value]) => flag(name, value))
    .join(' ');
}

function flag(name: string, value: HyperValue): string {
  if (value === true) return shellWord(`--${name}`);
  if (value === false) return shellWord(`--no-${name}`);
  return `${shellWord(`--${name}`)} ${shellWord(flagValue(value))}`;
}

function flagValue(value: HyperValue): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return String(value);
  if (Array.isArray(value) && value.every((v) => typeof v === 'number' || typeof v === 'string')) {
    return value.join(',');
  }
  return JSON.stringify(value) ?? String(value);
}

/** `s` as one POSIX shell word: bare when it holds only safe characters, else single-quoted. */
export function shellWord(s: string): string {
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
