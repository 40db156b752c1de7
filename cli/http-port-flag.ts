/**
 * `--http-port N` of `harmonium train`: a process option (the launcher's coordinator serves the
 * job's page there), not a job option, so it is taken out before the job options are compiled.
 */
import { ConfigError } from '../core/errors.js';

/** The port asked for (0: none) and the arguments without the flag. */
export function takeHttpPortFlag(args: readonly string[]): { port: number; rest: string[] } {
  const rest: string[] = [];
  let port = 0;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const inline = a.startsWith('--http-port=') ? a.slice('--http-port='.length) : undefined;
    if (a !== '--http-port' && inline === undefined) {
      rest.push(a);
      continue;
    }
    const value = inline ?? args[++i] ?? '';
    port = Number(value);
    if (value === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
      throw new ConfigError('http-port', `expected a port 0-65535, got ${JSON.stringify(value)}`);
    }
  }
  return { port, rest };
}
