/**
 * Harmonium's log lines: human text by default, or one JSON object per line with `--log-format
 * json` (for Loki, Elasticsearch, Cloud Logging...). A line may carry what it is about (job, rank,
 * generation, step, worker): JSON has them as fields; text shows a worker's rank as a `[rank R]`
 * prefix, since a worker's rank, unlike its launch order, is what the other lines name.
 *
 * The format is the process's, set once by the command line and inherited by the processes it
 * starts through HARMONIUM_LOG_FORMAT (a local job's workers log as the launcher does).
 */
import { ConfigError } from '../errors.js';

/** What a line is about; each becomes a JSON field of the same name. */
export interface LogFields {
  readonly job?: string;
  readonly rank?: number;
  readonly generation?: number;
  readonly step?: number;
  /** A worker's id, for lines about one that has no rank (joining, leaving). */
  readonly worker?: string;
}

/** Writes one log line. Every `(line: string) => void` is one (fields are then dropped). */
export type Log = (line: string, fields?: LogFields) => void;

export const LOG_FORMATS = ['text', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** The environment variable child processes read the format from. */
export const LOG_FORMAT_ENV = 'HARMONIUM_LOG_FORMAT';

/** Which process wrote a line, the `role` field of JSON lines. */
export type LogRole = 'cli' | 'coordinator' | 'worker' | 'trainer';

/** The format `value` names; a ConfigError on "log-format" otherwise. */
export function parseLogFormat(value: string): LogFormat {
  if ((LOG_FORMATS as readonly string[]).includes(value)) return value as LogFormat;
  throw new ConfigError(
    'log-format',
    `expected one of ${LOG_FORMATS.join(', ')}, got ${JSON.stringify(value)}`,
  );
}

let format: LogFormat | null = null;

/** The process's format: set by {@link setLogFormat}, else HARMONIUM_LOG_FORMAT, else text. */
export function logFormat(): LogFormat {
  if (format === null) {
    const env = process.env[LOG_FORMAT_ENV];
    format = env === undefined || env === '' ? 'text' : parseLogFormat(env);
  }
  return format;
}

/** Sets the process's format, and its children's (through the environment they inherit). */
export function setLogFormat(f: LogFormat): void {
  format = f;
  process.env[LOG_FORMAT_ENV] = f;
}

/** How much a line matters: JSON's `level`; text says it in the line itself (`warning:`, `error`). */
export type LogLevel = 'info' | 'warn' | 'error';

/** One line as `f` writes it, without its newline. */
export function formatLogLine(
  f: LogFormat,
  role: LogRole,
  line: string,
  fields: LogFields = {},
  level: LogLevel = 'info',
  now: Date = new Date(),
  /** The process that wrote it: this one, or a child whose output is relayed. */
  pid: number = process.pid,
): string {
  if (f === 'json') {
    return JSON.stringify({ time: now.toISOString(), level, role, pid, ...fields, msg: line });
  }
  return role === 'worker' && fields.rank !== undefined ? `[rank ${fields.rank}] ${line}` : line;
}

/** A {@link Log} writing to stderr in the process's format. */
export function stderrLog(role: LogRole, level: LogLevel = 'info'): Log {
  return (line, fields) => {
    process.stderr.write(`${formatLogLine(logFormat(), role, line, fields, level)}\n`);
  };
}
