/**
 * What a coordinator process exports whether or not it runs a job: whether it leads. A standby
 * (`--nats`, another coordinator holds the lease) exports 0, so that "no coordinator leads" is an
 * alert on `max(harmonium_coordinator_leader) < 1` and on its absence, with any scrape config.
 */
import { Gauge, Registry } from 'prom-client';

/**
 * A coordinator's presence, on a registry of its own (served beside the job's); `leads` is asked
 * at every scrape.
 */
export function createCoordinatorPresence(leads: () => boolean): Registry {
  const registry = new Registry();
  // No default process metrics here: the job's registry has them, and a family twice in one
  // exposition is a scrape error.
  registry.setDefaultLabels({ role: 'coordinator' });
  new Gauge({
    name: 'harmonium_coordinator_leader',
    help: 'Whether this coordinator leads (1: it serves jobs) or stands by (0).',
    registers: [registry],
    collect() {
      this.set(leads() ? 1 : 0);
    },
  });
  return registry;
}
