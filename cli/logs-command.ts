/** `harmonium logs JOB [-f]`: a job's events from NATS JetStream, from the first. */
import { connectNats } from '../core/control-plane/jetstream-control-store.js';
import type { NatsAccess } from '../core/control-plane/nats-access.js';
import { endsJob, readJobEvents, type StoredEvent } from '../core/control-plane/job-event-log.js';
import type { JobEvent } from '../coordinator/job-events.js';

/** One line per event: time, kind, state, generation, step, loss, why. */
export function formatEvent(e: StoredEvent): string {
  const v = JSON.parse(e.body) as Partial<JobEvent>;
  const at = typeof v.at === 'number' ? new Date(v.at).toISOString() : '-';
  const loss = typeof v.loss === 'number' ? ` loss ${v.loss.toFixed(4)}` : '';
  const why = v.reason ? `  ${v.reason}` : '';
  return `${at}  ${e.kind.padEnd(8)} ${String(v.state ?? '').padEnd(10)} gen ${v.generation ?? 0}  step ${v.step ?? 0}/${v.totalSteps ?? 0}${loss}${why}`;
}

/**
 * Prints job `jobId`'s events; with `follow`, until the job ends (or Ctrl-C). Returns the exit
 * code: 0, or 1 when there are no events or (following) the job did not succeed.
 */
export async function showLogs(
  access: NatsAccess,
  jobId: string,
  opts: { follow: boolean; json: boolean },
): Promise<number> {
  const nats = access.servers;
  const nc = await connectNats(access, 'harmonium-logs');
  let last: StoredEvent | null = null;
  let onStop: () => void = () => undefined;
  const stop = new Promise<void>((r) => (onStop = r));
  process.once('SIGINT', onStop);
  try {
    const n = await readJobEvents(nc, jobId, {
      follow: opts.follow,
      stop,
      onEvent: (e) => {
        last = e;
        console.log(opts.json ? e.body : formatEvent(e));
      },
    });
    if (n === 0) {
      console.error(`no events for job ${jobId} on ${nats}`);
      return 1;
    }
    const end = last as StoredEvent | null;
    if (opts.follow && end && endsJob(end)) {
      return (JSON.parse(end.body) as { state: string }).state === 'SUCCEEDED' ? 0 : 1;
    }
    return 0;
  } finally {
    process.off('SIGINT', onStop);
    await nc.close();
  }
}
