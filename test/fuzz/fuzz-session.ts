/**
 * Runs fuzz targets in a worker thread, watched from this one: a case that makes no progress for
 * HANG_MS (a decoder in an endless loop, which no check inside the worker could stop) or a worker
 * that runs out of memory ends the session with a failure that carries the input at fault.
 */
import { Worker } from 'node:worker_threads';

/** What to fuzz. */
export interface FuzzOptions {
  readonly targets: readonly string[];
  readonly seed: number;
  readonly numRuns: number;
  /** Replay test/fuzz/corpus/<target>/ before the generated cases. */
  readonly replayCorpus: boolean;
}

/** How one target fared; `failure` is null when every case held. */
export interface TargetReport {
  readonly name: string;
  readonly cases: number;
  readonly ms: number;
  readonly failure: {
    readonly message: string;
    /** The input at fault when it is new (not a corpus file), worth adding to the corpus. */
    readonly input: Uint8Array | null;
  } | null;
}

/** How long a single case may make no progress before the session calls it a hang. */
const HANG_MS = 10_000;

/** The largest input the watchdog can recover from the worker. */
const MAX_SHARED_INPUT = 16 << 20;

/** Heap for the worker: well above what the targets' limits allow, well below the machine. */
const WORKER_HEAP_MB = 2048;

/** A running session: the report of each target, as it finishes. */
export interface FuzzSession {
  report(target: string): Promise<TargetReport>;
  /** Resolves once every target has reported. */
  readonly done: Promise<readonly TargetReport[]>;
}

/** Starts fuzzing `options.targets`, in that order, in a fresh worker. */
export function startFuzz(options: FuzzOptions): FuzzSession {
  const shared = new SharedArrayBuffer(8 + MAX_SHARED_INPUT);
  const header = new Int32Array(shared, 0, 2);
  const waiting = new Map(
    options.targets.map((name) => {
      let resolve!: (r: TargetReport) => void;
      const promise = new Promise<TargetReport>((r) => (resolve = r));
      return [name, { promise, resolve }] as const;
    }),
  );
  const reports: TargetReport[] = [];
  const worker = new Worker(new URL('./fuzz-worker.mjs', import.meta.url), {
    workerData: { options, shared },
    resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB },
  });
  const started = performance.now();
  let finished = false;

  const settle = (r: TargetReport): void => {
    reports.push(r);
    waiting.get(r.name)?.resolve(r);
  };
  /** Fails the target now running and every one after it. */
  const abort = (why: string): void => {
    if (finished) return;
    finished = true;
    clearInterval(watchdog);
    const length = Atomics.load(header, 1);
    const input =
      Atomics.load(header, 0) > 0 && length >= 0 ? new Uint8Array(shared, 8, length).slice() : null;
    const inputNote = length < 0 ? ' (input too large to recover)' : '';
    const pending = options.targets.filter((name) => !reports.some((r) => r.name === name));
    for (const [i, name] of pending.entries()) {
      settle({
        name,
        cases: 0,
        ms: performance.now() - started,
        failure:
          i === 0
            ? { message: `${why}${inputNote}`, input }
            : { message: `not run: an earlier target failed (${why})`, input: null },
      });
    }
    void worker.terminate();
  };

  let seen = -1;
  let seenAt = performance.now();
  const watchdog = setInterval(() => {
    const count = Atomics.load(header, 0);
    if (count !== seen) {
      seen = count;
      seenAt = performance.now();
    } else if (performance.now() - seenAt > HANG_MS) {
      abort(`a case made no progress for ${HANG_MS} ms`);
    }
  }, 250);

  worker.on('message', (r: TargetReport) => settle(r));
  worker.on('error', (err) => abort(`worker failed: ${err.message}`));
  const done = new Promise<readonly TargetReport[]>((resolve) => {
    worker.on('exit', (code) => {
      if (!finished && reports.length < options.targets.length) abort(`worker exited with code ${code}`);
      finished = true;
      clearInterval(watchdog);
      resolve(reports);
    });
  });
  return {
    report: (name) => waiting.get(name)?.promise ?? Promise.reject(new Error(`no fuzz target ${name}`)),
    done,
  };
}
