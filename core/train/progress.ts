/**
 * Training progress for a person watching: on a terminal one bar redrawn in place with `\r`
 * (percent, images/s, loss, ETA); otherwise (logs, CI, a pipe) a plain line at most every few
 * seconds, since a redrawn bar would fill a log file with carriage returns; with `--log-format
 * json`, that line as a JSON log line (with its step), never a bar.
 */
import { formatLogLine, logFormat, type LogFormat } from '../logging/log.js';

/** Where progress goes; process.stderr fits. */
export interface ProgressStream {
  write(chunk: string): unknown;
  /** True for a terminal: the bar is redrawn in place. */
  readonly isTTY?: boolean;
  /** Terminal width; the bar line is cut to fit. */
  readonly columns?: number;
}

/** Options for a ProgressReporter. */
export interface ProgressOptions {
  /** Updates in the whole run. */
  readonly totalSteps: number;
  /** Step and images seen when this process started (non-zero when resuming), for rate and ETA. */
  readonly startStep?: number;
  readonly startImages?: number;
  /** Default process.stderr. */
  readonly stream?: ProgressStream;
  /** Milliseconds clock; default Date.now. */
  readonly now?: () => number;
  /** Non-terminal: at most one line per this many ms; default 10000. */
  readonly logIntervalMs?: number;
  /** Terminal: at most one redraw per this many ms; default 100. */
  readonly redrawIntervalMs?: number;
  /** Default the process's log format. */
  readonly format?: LogFormat;
}

/** Where training stands after an update. */
export interface ProgressUpdate {
  /** Updates taken so far in the whole run. */
  readonly step: number;
  readonly imagesSeen: number;
  readonly loss: number;
  readonly epoch?: number;
}

const BAR_WIDTH = 24;

/** Reports progress to a terminal (redrawn bar) or a log (throttled lines). */
export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly total: number;
  private readonly startStep: number;
  private readonly startImages: number;
  private readonly startTime: number;
  private readonly interval: number;
  private last: ProgressUpdate | null = null;
  /** Whether `last` has been shown. */
  private shown = true;
  private lastOutput = -Infinity;
  private readonly json: boolean;

  constructor(options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.json = (options.format ?? logFormat()) === 'json';
    this.tty = this.stream.isTTY === true && !this.json;
    this.now = options.now ?? Date.now;
    this.total = options.totalSteps;
    this.startStep = options.startStep ?? 0;
    this.startImages = options.startImages ?? 0;
    this.startTime = this.now();
    this.interval = this.tty ? (options.redrawIntervalMs ?? 100) : (options.logIntervalMs ?? 10_000);
  }

  /** Records an update; shows it when the interval has passed or it is the last step. */
  update(u: ProgressUpdate): void {
    this.last = u;
    this.shown = false;
    const t = this.now();
    if (t - this.lastOutput >= this.interval || u.step >= this.total) this.show(t);
  }

  /** Prints a line of text (an epoch summary...) without breaking the bar. */
  message(text: string): void {
    if (this.tty && this.last) {
      this.stream.write(`\r\x1b[K${text}\n${this.render(this.last, this.now())}`);
    } else {
      this.stream.write(`${this.json ? formatLogLine('json', 'cli', text) : text}\n`);
    }
  }

  /** Shows the latest update if it was not shown yet and, on a terminal, ends the bar's line. */
  finish(): void {
    if (!this.shown) this.show(this.now());
    if (this.tty && this.last) this.stream.write('\n');
  }

  private show(t: number): void {
    const u = this.last!;
    const line = this.describe(u, t);
    this.stream.write(
      this.tty
        ? this.render(u, t)
        : `${this.json ? formatLogLine('json', 'cli', line, { step: u.step }) : line}\n`,
    );
    this.shown = true;
    this.lastOutput = t;
  }

  private render(u: ProgressUpdate, t: number): string {
    const frac = this.total > 0 ? Math.min(u.step / this.total, 1) : 1;
    const filled = Math.round(frac * BAR_WIDTH);
    const bar = `[${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}]`;
    let line = `${bar} ${this.describe(u, t)}`;
    if (this.stream.columns && line.length >= this.stream.columns)
      line = line.slice(0, this.stream.columns - 1);
    // \x1b[K clears what a longer previous line left to the right.
    return `\r${line}\x1b[K`;
  }

  private describe(u: ProgressUpdate, t: number): string {
    const pct = this.total > 0 ? Math.min((100 * u.step) / this.total, 100) : 100;
    const seconds = (t - this.startTime) / 1000;
    const done = u.step - this.startStep;
    const rate = seconds > 0 ? (u.imagesSeen - this.startImages) / seconds : 0;
    const eta = done > 0 && seconds > 0 ? formatDuration(((this.total - u.step) * seconds) / done) : '?';
    const epoch = u.epoch === undefined ? '' : ` epoch ${u.epoch}`;
    return (
      `${pct.toFixed(1)}% step ${u.step}/${this.total}${epoch}` +
      ` loss ${formatLoss(u.loss)} ${Math.round(rate)} img/s ETA ${eta}`
    );
  }
}

function formatLoss(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(4) : String(x);
}

/** `42s`, `3m05s`, `1h02m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
