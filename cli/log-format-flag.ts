/**
 * `--log-format text|json`, a flag of every command: taken out of the arguments before they are
 * parsed (the train command passes its own to the job-option compiler, which knows no such
 * option), wherever it stands.
 */
import { parseLogFormat, type LogFormat } from '../core/logging/log.js';
import { ConfigError } from '../core/errors.js';

/** The format `args` ask for (null: none) and the arguments without the flag. */
export function takeLogFormatFlag(args: readonly string[]): { format: LogFormat | null; rest: string[] } {
  const rest: string[] = [];
  let format: LogFormat | null = null;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--log-format') {
      const value = args[++i];
      if (value === undefined || value.startsWith('--'))
        throw new ConfigError('log-format', 'needs text or json');
      format = parseLogFormat(value);
    } else if (a.startsWith('--log-format=')) {
      format = parseLogFormat(a.slice('--log-format='.length));
    } else {
      rest.push(a);
    }
  }
  return { format, rest };
}
