/**
 * Monitoring end to end, as a platform team would wire it: a real 2-worker job (`harmonium train
 * --workers 2 --metrics-port P`, one worker killed -9 mid-job and replaced) and, beside it, the
 * coordinator metrics of another job, both scraped every second by a real Prometheus with a plain
 * scrape config (no honor_labels) that also evaluates deploy/prometheus/rules/. Then, over the
 * job's time range, through the Prometheus HTTP API: the dashboard's job picker lists both job ids;
 * every query of every panel of dashboards/harmonium.json, its variables resolved as Grafana does
 * ($job the picked id, $__rate_interval four scrape intervals, $__range the job's), returns data, and only the picked
 * job's; every series an alert rule reads exists; the worker-lost alert fired, and no other.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parse } from 'yaml';

import { createCoordinatorMetrics } from '../core/metrics/coordinator-metrics.js';
import { serveMetrics } from '../core/metrics/metrics-server.js';
import { freePort } from './free-port.js';
import { loggedStep, smallAeJob } from './jobs.js';
import { childPids, start, until } from './processes.js';
import { PROMETHEUS_SKIP, startPrometheus, type Prometheus, type Series } from './prometheus.js';

const ROOT = join(import.meta.dirname, '..');
const RULES = join(ROOT, 'deploy', 'prometheus', 'rules', 'harmonium.rules.yml');
const SCRAPE_S = 1;
/** Grafana's $__rate_interval: max($__interval + scrape interval, 4 x scrape interval). */
const RATE_INTERVAL = `${4 * SCRAPE_S}s`;
const tmp = mkdtempSync(join(tmpdir(), 'harmonium-monitoring-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

interface Panel {
  readonly title: string;
  readonly targets?: readonly { readonly expr?: string }[];
  readonly panels?: readonly Panel[];
}

function panelsOf(list: readonly Panel[]): Panel[] {
  return list.flatMap((p) => [p, ...panelsOf(p.panels ?? [])]);
}

/** Whether `port` can be bound on 127.0.0.1 now. */
function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A port P with P..P+n-1 all free a moment ago (the coordinator's and its workers' metrics ports). */
async function freePortBlock(n: number): Promise<number> {
  for (;;) {
    const p = await freePort();
    let ok = p + n <= 65535;
    for (let i = 1; ok && i < n; i++) ok = await bindable(p + i);
    if (ok) return p;
  }
}

/** Pids of the members of generation `g`, from the coordinator's rendezvous line. */
function membersOf(output: string, g: number): number[] {
  const line = output.split('\n').find((l) => l.includes(`rendezvous, generation ${g}:`));
  assert.ok(line, `generation ${g} was formed`);
  return [...line.matchAll(/ pid (\d+)/g)].map((m) => Number(m[1]));
}

/** Whether any point of `series` is a finite number: a panel that draws something. */
function draws(series: readonly Series[]): boolean {
  return series.some((s) => (s.values ?? []).some(([, v]) => Number.isFinite(Number(v))));
}

describe('monitoring a real job with a real Prometheus', { skip: PROMETHEUS_SKIP }, () => {
  it('every dashboard panel draws the picked job only, every alert series exists, and a kill -9 fires the worker-lost alert', async () => {
    const port = await freePortBlock(3);
    // Another job's coordinator on the same Prometheus: the picker must tell the two apart.
    const other = createCoordinatorMetrics({
      job: 'other-job',
      model: 'rbm',
      states: ['PENDING', 'RUNNING', 'SUCCEEDED'],
    });
    other.setJobState('RUNNING');
    other.recordProgress({ step: 7, images: 700, loss: 3 });
    const otherServer = await serveMetrics(other.registry, { host: '127.0.0.1', port: 0 });
    let prometheus: Prometheus | null = null;
    try {
      prometheus = await startPrometheus({
        targets: [port, port + 1, port + 2, otherServer.port].map((p) => `127.0.0.1:${p}`),
        scrapeIntervalS: SCRAPE_S,
        ruleFiles: [RULES],
      });
      // Prometheus takes seconds to start scraping on a small machine: the job starts once it does,
      // so that it is scraped from its first steps, whatever the machine's speed.
      await prometheus.waitFor(`up{instance="127.0.0.1:${otherServer.port}"} == 1`, 60_000);
      const out = join(tmp, 'job');
      const from = Date.now() / 1000;
      const run = start([
        'train',
        ...smallAeJob(60, { logEvery: 5, digestEvery: 10 }),
        ...['--no-eval', '--workers', '2', '--metrics-port', String(port), '--out', out],
      ]);
      await until('step 100', 120_000, () => (loggedStep(out) >= 100 ? true : null)).catch((err: Error) => {
        throw new Error(`${err.message}: ${run.output()}`);
      });
      // A counter's first increase shows only where Prometheus saw it at 0 before: the kill waits
      // for a few scrapes of the coordinator and of both workers.
      await prometheus.waitFor(
        'count(count_over_time(harmonium_step_duration_seconds_count[1m]) >= 3) == 2',
        60_000,
      );
      await prometheus.waitFor(
        'count_over_time(harmonium_worker_failures_total{reason="exited", harmonium_job!="other-job"}[1m]) >= 3',
        60_000,
      );
      // Rank 0 (metrics slot 0, port P+1): the survivor keeps P+2 as the next generations' rank 0,
      // so the replacement must take the freed slot 0, not its rank's.
      process.kill(membersOf(run.output(), 1)[0]!, 'SIGKILL');
      const killedAt = Date.now() / 1000;
      assert.ok(
        loggedStep(out) < 2000,
        `the job was near its end (step ${loggedStep(out)} of 3000) at the kill`,
      );
      assert.equal(await run.exit, 0, run.output());
      assert.match(run.output(), /rendezvous, generation 3:/, 'the replacement joined the job');
      assert.deepEqual(childPids(run.child.pid!), [], 'no worker left running');
      // The last scrape of the job's last second, and one more rule evaluation.
      await new Promise((resolve) => setTimeout(resolve, 2 * SCRAPE_S * 1000));
      const to = Date.now() / 1000;
      const range = (expr: string) => prometheus!.queryRange(expr, from, to, SCRAPE_S);

      // The picker: label_values(harmonium_job_state, harmonium_job).
      const ids = [...new Set((await range('harmonium_job_state')).map((s) => s.metric['harmonium_job']))];
      const job = ids.find((id) => id !== 'other-job');
      assert.ok(job && /^ae-\w+$/.test(job), `job ids ${ids.join(', ')}`);
      assert.deepEqual([...ids].sort(), [job, 'other-job'].sort());
      assert.match(run.output(), new RegExp(`job ${job}`));

      const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards', 'harmonium.json'), 'utf8')) as {
        panels: Panel[];
      };
      const empty: string[] = [];
      let queries = 0;
      for (const panel of panelsOf(dashboard.panels)) {
        for (const target of panel.targets ?? []) {
          const expr = (target.expr ?? '')
            .replaceAll('$__rate_interval', RATE_INTERVAL)
            .replaceAll('$__range', `${Math.ceil(to - from)}s`)
            .replaceAll('$job', job);
          queries++;
          const series = await range(expr);
          if (!draws(series)) empty.push(`${panel.title}: ${expr}`);
          for (const s of series) {
            const shown = s.metric['harmonium_job'];
            assert.ok(shown === undefined || shown === job, `${panel.title} shows job ${shown}`);
          }
        }
      }
      assert.ok(queries >= 20, `${queries} panel queries`);
      assert.deepEqual(empty, [], 'panels without data');
      // The replacement served its metrics too, on the slot the victim freed (P+1), not on its
      // rank's (P+2, which the survivor holds): samples on P+1 after the kill are its.
      const slot0 = await range(`harmonium_step{harmonium_job="${job}", instance="127.0.0.1:${port + 1}"}`);
      assert.ok(
        slot0.some((x) => (x.values ?? []).some(([t]) => t > killedAt + 2 * SCRAPE_S)),
        'the replacement is scraped on the freed slot',
      );
      const slot1 = await range(`harmonium_step{harmonium_job="${job}", instance="127.0.0.1:${port + 2}"}`);
      assert.ok(draws(slot1), 'the survivor is scraped');

      // Every series the alert rules read exists for a job like this one.
      const rules = parse(readFileSync(RULES, 'utf8')) as {
        groups: { rules: { alert: string; expr: string }[] }[];
      };
      const missing: string[] = [];
      for (const rule of rules.groups.flatMap((g) => g.rules)) {
        await range(rule.expr); // the whole expression evaluates without an error
        for (const [selector, name] of rule.expr.matchAll(/\b(harmonium_\w+)(\{[^}]*\})?/g)) {
          if (name === 'harmonium_job') continue; // the job label of `by (...)`, not a metric
          if ((await range(selector)).length === 0) missing.push(`${rule.alert}: ${selector}`);
        }
      }
      assert.deepEqual(missing, [], 'alert selectors that match no series');
      const fired = new Set(
        (await range('ALERTS{alertstate="firing"}')).map(
          (s) => `${s.metric['alertname']}${s.metric['reason'] ? ` (${s.metric['reason']})` : ''}`,
        ),
      );
      assert.deepEqual([...fired], ['HarmoniumWorkerLost (exited)']);
    } finally {
      await prometheus?.close();
      await otherServer.close();
    }
  });
});
