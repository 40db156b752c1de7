/**
 * The registry each Harmonium role exports its metrics on. Every role gets its own registry, not
 * prom-client's global one, so tests and several roles sharing one process (a coordinator and its
 * workers in an end-to-end test) never register the same metric name twice.
 */
import { Registry, collectDefaultMetrics } from 'prom-client';

/** Who exports the metrics; it becomes labels on every series of the registry. */
export interface RegistryLabels {
  /** `coordinator` or `worker`: both export `harmonium_images_processed_total`, and a dashboard
   * summing it must pick one side or count every image twice. */
  readonly role: 'coordinator' | 'worker';
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
  const { rank, ...rest } = labels;
  registry.setDefaultLabels(rank === undefined ? rest : { ...rest, rank: String(rank) });
  collectDefaultMetrics({ register: registry });
  return registry;
}
