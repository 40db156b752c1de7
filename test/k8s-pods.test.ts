/**
 * The Kubernetes manifests, run: the base (deploy/k8s, rendered by kubectl or test/k8s-pods.ts)
 * and the submit Job of deploy/k8s/examples become real processes, one network namespace per pod,
 * each started with exactly the command, args, environment, volumes, user and probes its manifest
 * gives it (test/k8s-pods.ts; its one liberty: mount paths are rewritten to where the volumes' files
 * are). NATS with the ConfigMap's config and the secret's password, a coordinator on it, two worker
 * replicas and the submit Job train a tiny job through the Services' names, and its outputs are on
 * the coordinator's volume. The secrets are made as deploy/README.md's "Security" makes them.
 *
 * Skipped only where network namespaces cannot be made (root and iproute2; CI has both).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { harmonium, readJson, REPO } from './cli-helpers.js';
import {
  PodEmulation,
  renderBase,
  renderKustomization,
  yamlDocuments,
  type K8sObject,
  type PodProcess,
  type Workload,
} from './k8s-pods.js';
import { netnsSkip } from './netns.js';
import { until } from './processes.js';

const K8S = join(REPO, 'deploy', 'k8s');
const kubectlInstalled = spawnSync('kubectl', ['version', '--client']).error === undefined;
const NAMESPACE = 'harmonium';

/**
 * The example's training options replaced by a job that trains in seconds on two workers; its
 * coordinator, --out and --metrics-port stay as written.
 */
const TINY_JOB: Readonly<Record<string, string | null>> = {
  workers: '2',
  layers: '16,4',
  epochs: '1',
  limit: '300',
  'batch-size': '60',
  'test-limit': '50',
  pictures: null,
};

function find(objects: readonly K8sObject[], kind: string, name: string): Workload {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  assert.ok(o, `no ${kind} ${name} among ${objects.map((x) => `${x.kind}/${x.metadata.name}`).join(', ')}`);
  return o as Workload;
}

/** `args` with each `--name value` of `job` set (null: the `--no-name` switch). */
function withJob(args: readonly string[], job: Readonly<Record<string, string | null>>): string[] {
  const out = [...args];
  for (const [name, value] of Object.entries(job)) {
    if (value === null) {
      out.push(`--no-${name}`);
      continue;
    }
    const at = out.indexOf(`--${name}`);
    if (at >= 0) out[at + 1] = value;
    else out.push(`--${name}`, value);
  }
  return out;
}

/** The example's Job with the tiny job's options, and its `--out` (a path on the coordinator's volume). */
function submitJob(): { job: Workload; out: string } {
  const file = join(K8S, 'examples', 'submit-deep-ae.yaml');
  const job = find(yamlDocuments(readFileSync(file, 'utf8'), file), 'Job', 'submit-deep-ae');
  const c = job.spec.template.spec.containers[0]!;
  const args = withJob(c.args ?? [], TINY_JOB);
  const out = args[args.indexOf('--out') + 1];
  assert.ok(out, `${file}: the submit has no --out`);
  const spec = { ...job.spec.template.spec, containers: [{ ...c, args }] };
  return { job: { ...job, spec: { ...job.spec, template: { ...job.spec.template, spec } } }, out };
}

/** A Secret as `kubectl create secret generic NAME --from-file/--from-literal` makes it. */
function secret(name: string, data: Readonly<Record<string, Buffer | string>>): K8sObject {
  const encoded = Object.fromEntries(
    Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
  );
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace: NAMESPACE },
    data: encoded,
  } as K8sObject;
}

/** The three secrets of deploy/README.md's "Security", made as it says (`harmonium certs create`). */
function makeSecrets(root: string): K8sObject[] {
  const ca = join(root, 'harmonium-ca');
  const hosts = 'harmonium-coordinator,harmonium-coordinator.harmonium,harmonium-coordinator.harmonium.svc';
  const r = harmonium(['certs', 'create', ca, '--hosts', hosts]);
  assert.equal(r.status, 0, `harmonium certs create: ${r.stderr}`);
  const file = (name: string): Buffer => readFileSync(join(ca, name));
  // A password that begins with a letter: nats-server parses $NATS_PASSWORD as a config value.
  const password = `h${randomBytes(24).toString('hex')}`;
  return [
    secret('harmonium-tls', {
      'ca.crt': file('ca.crt'),
      'tls.crt': file('tls.crt'),
      'tls.key': file('tls.key'),
    }),
    secret('harmonium-token', { token: file('token') }),
    secret('harmonium-nats', { password, creds: `harmonium:${password}` }),
  ];
}

/** Waits until `p`'s output matches `re` (every match, for a global one, is returned). */
async function waitFor(p: PodProcess, what: string, re: RegExp, count = 1): Promise<RegExpMatchArray[]> {
  try {
    return await until(what, 60_000, () => {
      if (p.child.exitCode !== null || p.child.signalCode !== null) throw new Error('it exited');
      const found = [...p.output().matchAll(new RegExp(re.source, 'g'))];
      return found.length >= count ? found : null;
    });
  } catch (err) {
    throw new Error(`${(err as Error).message} (${what}); it printed:\n${p.output().slice(-4000)}`);
  }
}

/** `p`'s value, or 'timed out' after `ms`. */
async function within<T>(p: Promise<T>, ms: number): Promise<T | 'timed out'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'timed out'>((r) => (timer = setTimeout(() => r('timed out'), ms)));
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

describe('test/k8s-pods.ts, rendering without kubectl', () => {
  it('renders the base as kubectl does', { skip: !kubectlInstalled && 'kubectl is not installed' }, () => {
    const key = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;
    const sorted = (objects: K8sObject[]): K8sObject[] =>
      [...objects].sort((x, y) => key(x).localeCompare(key(y)));
    assert.deepEqual(sorted(renderKustomization(K8S)), sorted(renderBase(K8S).objects));
  });

  it('refuses a kustomization with a feature it does not implement (deploy/gpu: patches)', () => {
    assert.throws(
      () => renderKustomization(join(REPO, 'deploy', 'gpu')),
      /field patches is not rendered by test\/k8s-pods\.ts; install kubectl/,
    );
  });
});

describe('deploy/k8s, run as pods in network namespaces', { skip: netnsSkip }, () => {
  it('NATS, a coordinator and 2 workers of the base train the submit example (made tiny) through the Services', async (t) => {
    const root = mkdtempSync(join(tmpdir(), 'harmonium-k8s-'));
    let emulation: PodEmulation | null = null;
    try {
      const { objects, by } = renderBase(K8S);
      t.diagnostic(`rendered by ${by}`);
      const { job, out } = submitJob();
      emulation = await PodEmulation.create({
        root,
        objects: [...objects, ...makeSecrets(root)],
        plans: [
          { workload: find(objects, 'StatefulSet', 'harmonium-nats'), replicas: 1 },
          // One coordinator: a hosts file cannot route to the leader alone, as readiness does.
          { workload: find(objects, 'Deployment', 'harmonium-coordinator'), replicas: 1 },
          { workload: find(objects, 'Deployment', 'harmonium-worker'), replicas: 2 },
          { workload: job, replicas: 1 },
        ],
      });
      const e = emulation;
      const [nats, coordinator, submit] = [
        e.podsOf('harmonium-nats')[0]!,
        e.podsOf('harmonium-coordinator')[0]!,
        e.podsOf('submit-deep-ae')[0]!,
      ];
      const workers = e.podsOf('harmonium-worker');

      // In dependency order, each pod once its dependency is Ready (no restarts are emulated).
      const natsProcess = e.start(nats);
      assert.match(await e.probe(nats, 'readinessProbe', 20_000), /^200 /, natsProcess.output());
      await e.probe(nats, 'livenessProbe', 5_000);

      const c = e.start(coordinator);
      await waitFor(
        c,
        'the coordinator to lead',
        /leading \(state in JetStream at nats:\/\/harmonium-nats:4222\)/,
      );
      assert.match(
        c.output(),
        /listening on 0\.0\.0\.0:7070 \(mutual TLS .*, token required\); metrics on 0\.0\.0\.0:9400/,
      );
      assert.match(await e.probe(coordinator, 'readinessProbe', 20_000), /SERVING/);
      await e.probe(coordinator, 'livenessProbe', 5_000);

      for (const w of workers) e.start(w);
      const joins = await waitFor(c, 'both workers to join', / joined from \S+ \(collective (\S+):\d+\)/, 2);
      // --advertise-host $(POD_IP): peers dial each worker at its pod's address.
      assert.deepEqual(joins.map((m) => m[1]).sort(), workers.map((w) => w.ip).sort());

      // --out is a path the coordinator resolves: on its volume, so its mount is what rewrites it.
      const s = e.start(
        submit,
        submit.argv.map((w) => (w === out ? e.pathIn(coordinator, out) : w)),
      );
      const code = await within(s.exit, 60_000);
      assert.equal(
        code,
        0,
        `the submit Job ended with ${String(code)}:\n${s.output()}\ncoordinator:\n${c.output().slice(-3000)}`,
      );

      // As deploy/README.md asks for status: `kubectl exec` into the coordinator's pod.
      const status = await e.exec(
        coordinator,
        ['node', 'cli/harmonium.mjs', 'status', '--coordinator', 'harmonium-coordinator:7070', '--json'],
        30_000,
      );
      assert.equal(status.code, 0, status.out);
      const reply = JSON.parse(status.out.slice(status.out.indexOf('{'))) as {
        jobs: { jobId: string; state: string; out: string }[];
      };
      const outDir = e.pathIn(coordinator, out);
      assert.deepEqual(
        reply.jobs.map((j) => [j.state, j.out]),
        [['SUCCEEDED', outDir]],
      );
      for (const f of ['summary.json', 'metrics.jsonl', join('checkpoint', 'weights.bin')])
        assert.ok(existsSync(join(outDir, f)), `no ${f} in ${outDir}`);
      // Both workers trained it from its first step: the all-reduce ran between their namespaces.
      const summary = readJson(join(outDir, 'summary.json'));
      assert.deepEqual(
        (summary['world_sizes'] as { workers: number }[]).map((w) => w.workers),
        [2],
      );
      assert.ok(outDir.startsWith(join(root, 'claims', 'harmonium-runs')), `${outDir} is not on the claim`);

      // `harmonium logs` from a coordinator's pod, the one NATS admits, with HARMONIUM_NATS_CREDS.
      const logs = await e.exec(
        coordinator,
        ['node', 'cli/harmonium.mjs', 'logs', reply.jobs[0]!.jobId, '--nats', 'nats://harmonium-nats:4222'],
        30_000,
      );
      assert.equal(logs.code, 0, logs.out);
      assert.match(logs.out, /SUCCEEDED/);

      // What Prometheus scrapes: the coordinator's metrics port, through its Service's port.
      const scrape = await e.httpGet(submit, 'harmonium-coordinator', 9400, '/metrics');
      assert.equal(scrape.code, 0, scrape.out);
    } finally {
      await emulation?.destroy();
      rmSync(root, { recursive: true, force: true });
    }
  });
});
