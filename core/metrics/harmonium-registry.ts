/**
 * The registry each Harmonium role exports its metrics on. Every role gets its own registry, not
 * prom-client's global one, so tests and several roles sharing one process (a coordinator and its
 * workers in an end-to-end test) never register the same metric name twice.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Who exports the metrics; it becomes labels on every series of the registry: `role`, `model`,
 * `rank` and the Harmonium job id as `harmonium_job`. Never `job` or `instance`: those are the
 * labels Prometheus gives every target it scrapes, and a target's own would either be renamed
 * (exported_job) or, with honor_labels, overwrite them.
 */
export interface RegistryLabels {
  /** `coordinator` or `worker`: both export `harmonium_images_processed_total`, and a dashboard
   * summing it must pick one side or count every image twice. */
  readonly role: 'coordinator' | 'worker';
  /** The Harmonium job id, exported as `harmonium_job`. */
  readonly job: string;
  readonly model: string;
  readonly rank?: number;
}

/**
 * A fresh registry holding the default process and Node.js metrics (CPU, memory, event-loop lag,
 * GC), with `labels` attached to every series it exports, these included, so that the series of
 * several roles of one process stay apart.
 */
export function createHarmoniumRegistry(labels: RegistryLabels): Registry {
  const registry = new Registry();
  const { job, rank, role, model } = labels;
  registry.setDefaultLabels({
    role,
    harmonium_job: job,
    model,
    ...(rank === undefined ? {} : { rank: String(rank) }),
  });
  collectDefaultMetrics({ register: registry });
  return registry;
}
