/**
 * Checks the deployment files against the code they deploy, so that a renamed metric or a changed
 * port, flag or name breaks a test instead of a cluster: every metric the Grafana dashboard queries
 * is defined in core/metrics, and the Kubernetes manifests wire the roles together (the coordinator's
 * address, ports and volume, the workers' advertised address, the ports Prometheus scrapes) and keep
 * the elastic pool training through Kubernetes' disruptions (the leave grace, rollouts, evictions).
 *
 * The kustomize base is rendered with kubectl where kubectl is installed; elsewhere its resource
 * files are checked as written, which is what kustomize renders less the namespace, the labels on
 * metadata and the image tag.
 *
 * The GPU image (deploy/gpu/Dockerfile) is checked against what its two routes load: the CUDA and
 * cuDNN major versions libtensorflow 2.9.1 links, the glibc dawn.node needs, the project's tfjs
 * version; and the GPU overlay (deploy/gpu) against the base, rendered where kubectl is installed.
 * No image is built here: the machine has no Docker engine and no GPU.
 *
 * The security of the base is checked against the code that enforces it: every Harmonium container
 * gets its TLS directory and token from the secrets (read-only, readable by its group alone), none
 * runs --insecure, the NetworkPolicies admit exactly the peers each port needs, the coordinator's
 * readiness probe (deploy/health-probe.mjs) is run against a gRPC server with the credentials of
 * core/security, the NATS config is run by a real nats-server with the login core/control-plane
 * reads, and the cert-manager component renders into an overlay of the base.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { Server } from '@grpc/grpc-js';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { HealthImplementation } from 'grpc-health-check';
import { parse, parseAllDocuments } from 'yaml';
import { natsAccessFrom, natsConnectionOptions } from '../core/control-plane/nats-access.js';
import { createCertificates } from '../core/security/certificate-authority.js';
import { ClusterCredentials } from '../core/security/cluster-credentials.js';
import { readTlsDir } from '../core/security/tls-dir.js';
import { freePort } from './free-port.js';
import { natsSkip } from './nats-server.js';

const ROOT = resolve(import.meta.dirname, '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const NAMESPACE = 'harmonium';
/** terminationGracePeriodSeconds where a pod sets none. */
const DEFAULT_GRACE_S = 30;
/** Where the image has deploy/health-probe.mjs (WORKDIR /app, COPY . .). */
const HEALTH_PROBE_IN_IMAGE = '/app/deploy/health-probe.mjs';

interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { fieldPath: string };
    readonly secretKeyRef?: { name: string; key: string };
  };
}

interface Probe {
  readonly grpc?: { readonly port: number };
  readonly tcpSocket?: { readonly port: number | string };
  readonly exec?: { readonly command: readonly string[] };
  readonly periodSeconds?: number;
  readonly timeoutSeconds?: number;
}

interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { name?: string; containerPort: number }[];
  readonly volumeMounts?: readonly { name: string; mountPath: string; readOnly?: boolean }[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string | number>>;
    readonly limits?: Readonly<Record<string, string | number>>;
  };
}

interface Volume {
  readonly name: string;
  readonly persistentVolumeClaim?: { claimName: string };
  readonly secret?: {
    readonly secretName: string;
    readonly defaultMode?: number;
    readonly items?: readonly { key: string; path: string }[];
  };
  readonly configMap?: { readonly name: string };
}

interface PodTemplate {
  readonly metadata: Meta;
  readonly spec: {
    readonly terminationGracePeriodSeconds?: number;
    readonly securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; fsGroup?: number };
    readonly containers: readonly Container[];
    readonly volumes?: readonly Volume[];
  };
}

interface K8sObject {
  readonly kind: string;
  readonly metadata: Meta;
}

/** A Deployment, StatefulSet or Job: the kinds here that run pods. */
interface Workload extends K8sObject {
  readonly spec: {
    readonly replicas?: number;
    readonly minReadySeconds?: number;
    readonly strategy?: {
      readonly type?: string;
      readonly rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string };
    };
    readonly template: PodTemplate;
  };
}

interface PodDisruptionBudget extends K8sObject {
  readonly spec: {
    readonly minAvailable?: number | string;
    readonly maxUnavailable?: number | string;
    readonly selector: {
      readonly matchLabels?: Readonly<Record<string, string>>;
      readonly matchExpressions?: readonly unknown[];
    };
    readonly unhealthyPodEvictionPolicy?: string;
  };
}

interface Service extends K8sObject {
  readonly spec: {
    readonly selector: Readonly<Record<string, string>>;
    readonly ports: readonly { name?: string; port: number; targetPort?: number | string }[];
  };
}

interface RelabelConfig {
  readonly source_labels?: readonly string[];
  readonly regex?: string;
  readonly action?: string;
}

interface PrometheusConfig {
  readonly scrape_configs: readonly {
    job_name: string;
    honor_labels?: boolean;
    kubernetes_sd_configs?: readonly { role: string; namespaces?: { names: readonly string[] } }[];
    relabel_configs?: readonly RelabelConfig[];
  }[];
}

interface Target {
  readonly expr?: string;
  readonly datasource?: { uid?: string };
}

interface Panel {
  readonly id?: number;
  readonly title?: string;
  readonly datasource?: { uid?: string } | null;
  readonly targets?: readonly Target[];
  /** The panels of a collapsed row. */
  readonly panels?: readonly Panel[];
}

interface Dashboard {
  readonly panels: readonly Panel[];
  readonly templating: {
    readonly list: readonly {
      name: string;
      type: string;
      definition?: string;
      datasource?: { uid?: string };
    }[];
  };
}

/** Every document of a multi-document YAML text; a syntax error throws, naming `where`. */
function parseYamlDocuments(text: string, where: string): unknown[] {
  return parseAllDocuments(text).map((doc, i) => {
    assert.deepEqual(
      doc.errors.map((e) => e.message),
      [],
      `${where}: YAML document ${i + 1} does not parse`,
    );
    return doc.toJS() as unknown;
  });
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => {
      const p = join(dir, e.name);
      if (e.isDirectory()) return yamlFiles(p);
      return /\.ya?ml$/.test(e.name) ? [p] : [];
    })
    .sort();
}

// Rendered once for every test below; ENOENT means kubectl is not installed.
const render = spawnSync('kubectl', ['kustomize', K8S], { encoding: 'utf8' });
const kubectlMissing = (render.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT';

/** The objects of the kustomize base: as kubectl renders them, or as its resource files say. */
function baseObjects(): K8sObject[] {
  if (!kubectlMissing) {
    assert.equal(render.error, undefined, `kubectl kustomize ${K8S}: ${String(render.error)}`);
    assert.equal(render.status, 0, `kubectl kustomize ${K8S} failed:\n${render.stderr}`);
    return parseYamlDocuments(render.stdout, 'kubectl kustomize deploy/k8s') as K8sObject[];
  }
  const kustomization = parse(readFileSync(join(K8S, 'kustomization.yaml'), 'utf8')) as {
    resources: string[];
  };
  return kustomization.resources.flatMap(
    (file) => parseYamlDocuments(readFileSync(join(K8S, file), 'utf8'), file) as K8sObject[],
  );
}

function find<T extends K8sObject>(objects: readonly K8sObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  assert.ok(found, `no ${kind} ${name} in ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(', ')}`);
  return found as T;
}

/**
 * The base with `component`, rendered by kubectl as an overlay of deploy/README.md's shape
 * renders it (kustomize takes relative paths only).
 */
function renderWithComponent(component: string): K8sObject[] {
  const overlay = mkdtempSync(join(tmpdir(), 'harmonium-overlay-'));
  try {
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      `resources:\n  - ${relative(overlay, K8S)}\ncomponents:\n  - ${relative(overlay, component)}\n`,
    );
    const r = spawnSync('kubectl', ['kustomize', overlay], { encoding: 'utf8' });
    assert.equal(r.status, 0, `kubectl kustomize with ${relative(ROOT, component)} failed:\n${r.stderr}`);
    return parseYamlDocuments(r.stdout, `the base with ${relative(ROOT, component)}`) as K8sObject[];
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
}

function onlyContainer(w: Workload): Container {
  const containers = w.spec.template.spec.containers;
  assert.equal(containers.length, 1, `${w.metadata.name} should run one container`);
  return containers[0]!;
}

/** The value of `--name` in `args`, given as `--name value` or `--name=value`. */
function flag(args: readonly string[] | undefined, name: string): string | undefined {
  const list = args ?? [];
  const i = list.indexOf(`--${name}`);
  if (i >= 0) return list[i + 1];
  return list.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
}

function portOf(address: string | undefined, what: string): number {
  const m = /^.+:(\d+)$/.exec(address ?? '');
  assert.ok(m, `${what}: expected HOST:PORT, got ${address}`);
  return Number(m[1]);
}

function containerPort(c: Container, name: string): number {
  const port = c.ports?.find((p) => p.name === name);
  assert.ok(port, `container ${c.name} declares no port named ${name}`);
  return port.containerPort;
}

function selects(selector: Readonly<Record<string, string>>, labels: Readonly<Record<string, string>> = {}) {
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

/** The addresses at which pods of the namespace reach the coordinator's gRPC port. */
function coordinatorAddresses(objects: readonly K8sObject[]): string[] {
  const service = find<Service>(objects, 'Service', 'harmonium-coordinator');
  const grpc = service.spec.ports.find((p) => p.name === 'grpc');
  assert.ok(grpc, 'the coordinator Service has no port named grpc');
  const name = service.metadata.name;
  return [
    name,
    `${name}.${NAMESPACE}`,
    `${name}.${NAMESPACE}.svc`,
    `${name}.${NAMESPACE}.svc.cluster.local`,
  ].map((host) => `${host}:${grpc.port}`);
}

/** The submit example's Job (deploy/k8s/examples, not in the base). */
function submitExample(): Workload {
  const example = parseYamlDocuments(
    readFileSync(join(K8S, 'examples', 'submit-deep-ae.yaml'), 'utf8'),
    'examples/submit-deep-ae.yaml',
  ) as K8sObject[];
  return find<Workload>(example, 'Job', 'submit-deep-ae');
}

/** Seconds after the first SIGTERM at which a leaving worker exits anyway (cli/main.ts). */
function leaveGraceSeconds(): number {
  const source = readFileSync(join(ROOT, 'cli', 'main.ts'), 'utf8');
  const m = /const LEAVE_GRACE_MS = ([\d_]+);/.exec(source);
  assert.ok(m, 'cli/main.ts no longer defines LEAVE_GRACE_MS');
  return Number(m[1]!.replaceAll('_', '')) / 1000;
}

/** The default of a training option, as core/config/job-config.ts declares it. */
function optionDefault(name: string): number {
  const source = readFileSync(join(ROOT, 'core', 'config', 'job-config.ts'), 'utf8');
  const m = new RegExp(`name: '${name}',[^}]*?default: (\\d+)`).exec(source);
  assert.ok(m, `core/config/job-config.ts declares no numeric default for ${name}`);
  return Number(m[1]);
}

/** Metric names defined in core/metrics, with their prom-client kind (Counter, Gauge, Histogram). */
function definedMetrics(): Map<string, string> {
  const dir = join(ROOT, 'core', 'metrics');
  const defined = new Map<string, string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))) {
    const source = readFileSync(join(dir, file), 'utf8');
    for (const m of source.matchAll(/new (Counter|Gauge|Histogram)\(\{\s*name:\s*'([^']+)'/g)) {
      defined.set(m[2]!, m[1]!);
    }
  }
  return defined;
}

function allPanels(panels: readonly Panel[]): Panel[] {
  return panels.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
}

describe('dashboards/harmonium.json', () => {
  const dashboard = JSON.parse(readFileSync(join(ROOT, 'dashboards', 'harmonium.json'), 'utf8')) as Dashboard;
  const panels = allPanels(dashboard.panels);
  const queries = [
    ...panels.flatMap((p) =>
      (p.targets ?? []).map((t) => ({ where: `panel ${p.title}`, expr: t.expr ?? '' })),
    ),
    ...dashboard.templating.list.map((v) => ({ where: `variable ${v.name}`, expr: v.definition ?? '' })),
  ];

  it('queries only metrics that core/metrics defines', () => {
    const defined = definedMetrics();
    assert.ok(defined.size > 0, 'found no metric definitions in core/metrics');
    const unknown: string[] = [];
    for (const { where, expr } of queries) {
      for (const [name] of expr.matchAll(/\bharmonium_\w+/g)) {
        if (name === 'harmonium_job') continue; // the job label, not a metric
        const histogram = /^(.+)_(bucket|sum|count)$/.exec(name);
        const known = defined.has(name) || (histogram !== null && defined.get(histogram[1]!) === 'Histogram');
        if (!known) unknown.push(`${name} (${where})`);
      }
    }
    assert.deepEqual(unknown, [], `defined: ${[...defined.keys()].join(', ')}`);
    assert.ok(
      queries.some(
        (q) => q.where === 'variable job' && q.expr === 'label_values(harmonium_job_state, harmonium_job)',
      ),
      'the job variable should list label_values(harmonium_job_state, harmonium_job)',
    );
  });

  it('counts images on one side only', () => {
    // Coordinator and workers both export the images counter: a sum over both counts each twice.
    const unscoped = queries.filter(
      (q) =>
        q.expr.includes('harmonium_images_processed_total') && !/role="(worker|coordinator)"/.test(q.expr),
    );
    assert.deepEqual(unscoped, []);
  });

  it('gives every panel a unique id and a data source variable', () => {
    const sources = new Set(
      dashboard.templating.list.filter((v) => v.type === 'datasource').map((v) => `\${${v.name}}`),
    );
    assert.ok(sources.size > 0, 'the dashboard has no data source variable');
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `panel ids repeat: ${ids.join(', ')}`);
    for (const p of panels) {
      assert.equal(typeof p.id, 'number', `panel ${p.title} has no id`);
      assert.ok(
        sources.has(p.datasource?.uid ?? ''),
        `panel ${p.title}: data source ${JSON.stringify(p.datasource)}`,
      );
      for (const t of p.targets ?? []) {
        if (t.datasource) assert.ok(sources.has(t.datasource.uid ?? ''), `a query of panel ${p.title}`);
      }
    }
  });
});

describe('deploy/', () => {
  it('every YAML file parses', () => {
    const files = yamlFiles(join(ROOT, 'deploy'));
    assert.ok(files.length > 0);
    for (const file of files) parseYamlDocuments(readFileSync(file, 'utf8'), relative(ROOT, file));
  });

  it(
    'kustomize renders the base into the harmonium namespace',
    { skip: kubectlMissing && 'kubectl is not on PATH (the other tests check the files as written)' },
    () => {
      const objects = baseObjects();
      for (const o of objects.filter((o) => o.kind !== 'Namespace')) {
        assert.equal(o.metadata.namespace, NAMESPACE, `${o.kind}/${o.metadata.name}`);
      }
      const images = objects
        .filter((o): o is Workload => o.kind === 'Deployment')
        .flatMap((w) => w.spec.template.spec.containers.map((c) => c.image));
      for (const image of images) assert.match(image, /^harmonium:.+/);
    },
  );

  it('the coordinator serves gRPC and metrics on its declared ports, with /runs on the claim', () => {
    const objects = baseObjects();
    const deployment = find<Workload>(objects, 'Deployment', 'harmonium-coordinator');
    const c = onlyContainer(deployment);
    assert.equal(c.args?.[0], 'coordinator');
    assert.equal(portOf(flag(c.args, 'listen'), 'coordinator --listen'), containerPort(c, 'grpc'));
    assert.equal(Number(flag(c.args, 'metrics-port')), containerPort(c, 'metrics'));
    assert.equal(
      Number(deployment.spec.template.metadata.annotations?.['prometheus.io/port']),
      containerPort(c, 'metrics'),
    );

    const mount = c.volumeMounts?.find((m) => m.mountPath === '/runs');
    assert.ok(mount, 'nothing is mounted at /runs');
    const volume = deployment.spec.template.spec.volumes?.find((v) => v.name === mount.name);
    const claim = volume?.persistentVolumeClaim?.claimName;
    assert.ok(claim, `volume ${mount.name} at /runs is not a PersistentVolumeClaim`);
    find(objects, 'PersistentVolumeClaim', claim);
    assert.equal(flag(c.args, 'runs-dir'), '/runs', "jobs' outputs must go to the claim");
    // The kubelet's grpc probe dials without TLS, which the coordinator refuses: readiness runs
    // deploy/health-probe.mjs in the container, grpc.health.v1 over mutual TLS.
    assert.equal(c.readinessProbe?.grpc, undefined, "the kubelet's gRPC probe cannot do TLS");
    const probe = c.readinessProbe?.exec?.command ?? [];
    assert.equal(probe[0], 'node', `readiness ${JSON.stringify(probe)}`);
    assert.equal(probe[1], HEALTH_PROBE_IN_IMAGE);
    assert.equal(
      Number(probe[2]),
      containerPort(c, 'grpc'),
      'readiness asks grpc.health.v1 on the gRPC port (SERVING only on the leader)',
    );
    assert.ok((c.readinessProbe?.timeoutSeconds ?? 1) >= 2, 'a Node start and a TLS handshake take time');
    assert.equal(
      c.livenessProbe?.tcpSocket?.port,
      containerPort(c, 'grpc'),
      'liveness must not kill a standby, which is NOT_SERVING',
    );
  });

  it('two coordinators share the NATS the base deploys, and a volume both can mount', () => {
    const objects = baseObjects();
    const deployment = find<Workload>(objects, 'Deployment', 'harmonium-coordinator');
    assert.equal(deployment.spec.replicas, 2, 'a leader and a standby');
    const nats = flag(onlyContainer(deployment).args, 'nats') ?? '';
    const m = /^nats:\/\/([\w-]+):(\d+)$/.exec(nats);
    assert.ok(m, `--nats ${nats}`);
    const service = find<Service>(objects, 'Service', m[1]!);
    const server = find<Workload>(objects, 'StatefulSet', 'harmonium-nats');
    assert.ok(selects(service.spec.selector, server.spec.template.metadata.labels));
    const port = service.spec.ports.find((p) => p.port === Number(m[2]));
    assert.ok(port, `the NATS Service has no port ${m[2]}`);
    const c = onlyContainer(server);
    assert.equal(containerPort(c, String(port.targetPort)), Number(m[2]));
    // JetStream and its store are in the config file (nats.yaml's ConfigMap).
    const store = /\bjetstream\s*\{[^}]*\bstore_dir:\s*(\S+)/.exec(natsConfig(objects).text)?.[1];
    assert.ok(store, 'JetStream is on, with a store_dir');
    assert.ok(
      c.volumeMounts?.some((v) => v.mountPath === store),
      'the JetStream store is on a volume',
    );
    const claim = find<K8sObject & { spec: { accessModes: string[] } }>(
      objects,
      'PersistentVolumeClaim',
      'harmonium-runs',
    );
    assert.deepEqual(claim.spec.accessModes, ['ReadWriteMany']);
  });

  it('the coordinator Service routes to the coordinator pods, not the workers', () => {
    const objects = baseObjects();
    const service = find<Service>(objects, 'Service', 'harmonium-coordinator');
    const coordinator = find<Workload>(objects, 'Deployment', 'harmonium-coordinator');
    const worker = find<Workload>(objects, 'Deployment', 'harmonium-worker');
    const selector = JSON.stringify(service.spec.selector);
    assert.ok(
      selects(service.spec.selector, coordinator.spec.template.metadata.labels),
      `${selector} misses`,
    );
    assert.ok(
      !selects(service.spec.selector, worker.spec.template.metadata.labels),
      `${selector} takes workers`,
    );
    const c = onlyContainer(coordinator);
    for (const name of ['grpc', 'metrics']) {
      const port = service.spec.ports.find((p) => p.name === name);
      assert.ok(port, `the Service has no port named ${name}`);
      const target = port.targetPort ?? port.port;
      assert.equal(typeof target === 'string' ? containerPort(c, target) : target, containerPort(c, name));
    }
    assert.equal(service.spec.ports.find((p) => p.name === 'grpc')?.port, 7070);
  });

  it('workers dial the coordinator Service and advertise their pod IP', () => {
    const objects = baseObjects();
    const c = onlyContainer(find<Workload>(objects, 'Deployment', 'harmonium-worker'));
    assert.equal(c.args?.[0], 'worker');
    assert.ok(coordinatorAddresses(objects).includes(flag(c.args, 'coordinator') ?? ''), `--coordinator`);
    // Peers and Prometheus connect from other pods: loopback would refuse them.
    assert.equal(flag(c.args, 'listen-host'), '0.0.0.0');
    const advertised = /^\$\((\w+)\)$/.exec(flag(c.args, 'advertise-host') ?? '');
    assert.ok(advertised, '--advertise-host should be $(VAR) of an environment variable');
    const env = c.env?.find((e) => e.name === advertised[1]);
    assert.equal(env?.valueFrom?.fieldRef?.fieldPath, 'status.podIP');
  });

  it('a rollout replaces one worker at a time, and each has the whole leave grace', () => {
    const workers = find<Workload>(baseObjects(), 'Deployment', 'harmonium-worker');
    // The kubelet's SIGKILL at the end of the grace period would cut short a leave still draining.
    const grace = workers.spec.template.spec.terminationGracePeriodSeconds ?? DEFAULT_GRACE_S;
    assert.ok(grace > leaveGraceSeconds(), `terminationGracePeriodSeconds ${grace}: a leave may take longer`);

    const { strategy, replicas = 1, minReadySeconds = 0 } = workers.spec;
    assert.equal(strategy?.type, 'RollingUpdate');
    // Counts, not percentages, so that the floor checked below is replicas - maxUnavailable.
    const maxUnavailable = strategy?.rollingUpdate?.maxUnavailable;
    const maxSurge = strategy?.rollingUpdate?.maxSurge;
    assert.equal(maxUnavailable, 1, 'one worker away at a time');
    assert.ok(typeof maxSurge === 'number' && maxSurge >= 1, `maxSurge ${maxSurge}`);
    // Without a readiness probe a new pod is available at once, before it has joined the pool.
    assert.ok(minReadySeconds > 0, 'no minReadySeconds: the rollout would outrun the joins');

    const submit = onlyContainer(submitExample());
    const minWorkers = Number(flag(submit.args, 'min-workers') ?? optionDefault('min-workers'));
    assert.ok(
      minWorkers <= replicas - maxUnavailable,
      `the example's --min-workers ${minWorkers} would stop it during a rollout of ${replicas} workers`,
    );
  });

  it('the disruption budget evicts one worker at a time, and covers the workers only', () => {
    const objects = baseObjects();
    const pods = [...objects.filter((o): o is Workload => o.kind === 'Deployment'), submitExample()];

    const budgets = objects.filter((o): o is PodDisruptionBudget => o.kind === 'PodDisruptionBudget');
    const budget = find<PodDisruptionBudget>(budgets, 'PodDisruptionBudget', 'harmonium-worker');
    assert.equal(budget.spec.maxUnavailable, 1);
    assert.equal(budget.spec.minAvailable, undefined, 'minAvailable would not follow the replicas');
    // A worker that is not running holds no job state and must not stall a drain.
    assert.equal(budget.spec.unhealthyPodEvictionPolicy, 'AlwaysAllow');
    for (const b of budgets) {
      assert.equal(b.spec.selector.matchExpressions, undefined, `${b.metadata.name}: matchExpressions`);
      const covered = pods
        .filter((w) => selects(b.spec.selector.matchLabels ?? {}, w.spec.template.metadata.labels))
        .map((w) => w.metadata.name);
      // The eviction API refuses a pod that two budgets select, and a budget on the single
      // coordinator would block every drain of its node.
      assert.deepEqual(
        covered,
        b === budget ? ['harmonium-worker'] : [],
        `${b.metadata.name} covers ${covered.join(', ')}`,
      );
    }
  });

  it("Prometheus keeps the pods' metrics ports, and the submit example fits them", () => {
    const objects = baseObjects();
    const coordinator = onlyContainer(find<Workload>(objects, 'Deployment', 'harmonium-coordinator'));
    const workers = find<Workload>(objects, 'Deployment', 'harmonium-worker');
    const worker = onlyContainer(workers);
    for (const name of ['harmonium-coordinator', 'harmonium-worker']) {
      const pods = find<Workload>(objects, 'Deployment', name).spec.template.metadata;
      assert.equal(pods.annotations?.['prometheus.io/scrape'], 'true', `${name}'s pods are not scraped`);
    }
    const rankPorts = (worker.ports ?? []).filter((p) => p.name?.startsWith('metrics-rank'));
    assert.ok(rankPorts.length >= (workers.spec.replicas ?? 1), 'fewer metrics ports than worker replicas');

    const prometheus = parse(
      readFileSync(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'), 'utf8'),
    ) as PrometheusConfig;
    const scrape = prometheus.scrape_configs.find((s) => s.job_name === 'harmonium');
    assert.ok(scrape, 'no scrape config named harmonium');
    // Harmonium exports its job id as harmonium_job, so the target labels need no honor_labels
    // (which shared Prometheus servers do not grant, and which lets a target overwrite any label).
    assert.notEqual(scrape.honor_labels, true);
    assert.ok(
      scrape.kubernetes_sd_configs?.some(
        (sd) => sd.role === 'pod' && sd.namespaces?.names.includes(NAMESPACE),
      ),
    );
    const keepPort = scrape.relabel_configs?.find(
      (r) => r.action === 'keep' && r.source_labels?.includes('__meta_kubernetes_pod_container_port_name'),
    );
    assert.ok(keepPort?.regex, 'no keep rule on the container port name');
    // Prometheus anchors relabel regexes at both ends.
    const kept = new RegExp(`^(?:${keepPort.regex})$`);
    const metricsPorts = [...(coordinator.ports ?? []), ...(worker.ports ?? [])].filter((p) =>
      p.name?.startsWith('metrics'),
    );
    assert.equal(metricsPorts.length, rankPorts.length + 1, "the coordinator's metrics port and the ranks'");
    for (const p of metricsPorts) assert.match(p.name!, kept);
    assert.doesNotMatch('grpc', kept);

    const submit = onlyContainer(submitExample());
    assert.equal(submit.args?.[0], 'submit');
    assert.ok(
      coordinatorAddresses(objects).includes(flag(submit.args, 'coordinator') ?? ''),
      '--coordinator',
    );
    assert.match(flag(submit.args, 'out') ?? '', /^\/runs\/./, '--out must be on the coordinator volume');
    // Rank r serves on --metrics-port + 1 + r: each must be a declared port of that rank's name.
    const base = Number(flag(submit.args, 'metrics-port'));
    const ranks = Number(flag(submit.args, 'workers'));
    assert.ok(ranks <= (workers.spec.replicas ?? 1), 'the example asks for more workers than the pool has');
    for (let r = 0; r < ranks; r++) assert.equal(containerPort(worker, `metrics-rank${r}`), base + 1 + r);
  });
});

const GPU = join(ROOT, 'deploy', 'gpu');

/** A Dockerfile's instructions: comments dropped, continuation lines joined. */
function dockerInstructions(file: string): { op: string; args: string }[] {
  const text = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return text
    .split('\n')
    .map((line) => /^\s*([A-Za-z]+)\s+(.*)$/.exec(line))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ op: m[1]!.toUpperCase(), args: m[2]!.replace(/\s+/g, ' ').trim() }));
}

/** glibc of each Ubuntu release a CUDA image may be based on. */
const UBUNTU_GLIBC: Readonly<Record<string, number>> = { '18.04': 27, '20.04': 31, '22.04': 35, '24.04': 39 };

describe('deploy/gpu/', () => {
  const steps = dockerInstructions(join(GPU, 'Dockerfile'));
  const runs = steps.filter((s) => s.op === 'RUN').map((s) => s.args);
  const cudaImage = /^CUDA_IMAGE=(\S+)$/.exec(steps.find((s) => s.op === 'ARG')?.args ?? '')?.[1] ?? '';

  it('builds on a CUDA 11 / cuDNN 8 image whose glibc loads dawn.node', () => {
    // libtensorflow 2.9.1 (tfjs-node 4.x) was built with CUDA 11.2 and cuDNN 8.1: it loads
    // libcudart.so.11.0 and libcudnn.so.8, and TensorFlow accepts cuDNN 8.1 or a later 8.y.
    const m = /^nvidia\/cuda:11\.(\d+)\.\d+-cudnn8-runtime-ubuntu(\d+\.04)$/.exec(cudaImage);
    assert.ok(m, `ARG CUDA_IMAGE=${cudaImage}: expected nvidia/cuda:11.x.y-cudnn8-runtime-ubuntuNN.04`);
    assert.ok(Number(m[1]) >= 2, `CUDA 11.${m[1]} is older than the 11.2 libtensorflow was built with`);
    const froms = steps.filter((s) => s.op === 'FROM').map((s) => s.args);
    assert.equal(froms.at(-1), '${CUDA_IMAGE}', 'the final stage should be the CUDA image');

    const glibc = UBUNTU_GLIBC[m[2]!];
    assert.ok(glibc !== undefined, `unknown Ubuntu ${m[2]}`);
    const dawnNode = join(ROOT, 'node_modules', 'webgpu', 'dist', 'linux-x64', 'dawn.node');
    if (!existsSync(dawnNode)) return; // an optional dependency; the webgpu route is then absent
    const needed = Math.max(
      ...[...readFileSync(dawnNode, 'latin1').matchAll(/GLIBC_2\.(\d+)/g)].map((v) => Number(v[1])),
    );
    assert.ok(glibc >= needed, `dawn.node needs glibc 2.${needed}; Ubuntu ${m[2]} has 2.${glibc}`);
  });

  it("installs tfjs-node-gpu at the project's tfjs version, its install script approved by name", () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    const install = runs.findIndex((r) => /\bnpm install --no-save\b.*@tensorflow\/tfjs-node-gpu@/.test(r));
    assert.ok(install >= 0, 'no `npm install --no-save ... @tensorflow/tfjs-node-gpu@VERSION`');
    const version = /@tensorflow\/tfjs-node-gpu@(\S+)/.exec(runs[install]!)?.[1];
    // Another version would bring its own tfjs-core beside the project's.
    assert.equal(version, pkg.dependencies['@tensorflow/tfjs-core']);
    assert.match(runs[install]!, /--omit=dev/);
    // npm 11 reads allowScripts from package.json and rejects --allow-scripts in a project install.
    const approve = runs.findIndex((r) =>
      r.includes("npm pkg set 'allowScripts.@tensorflow/tfjs-node-gpu=true' --json"),
    );
    assert.ok(approve >= 0 && approve <= install, 'tfjs-node-gpu is not approved in allowScripts first');
    const npm = runs.map((r) => /\bnpm install -g npm@(\d+)\./.exec(r)?.[1]).find((v) => v !== undefined);
    assert.ok(Number(npm) >= 11, `npm ${npm}: allowScripts and strict-allow-scripts need npm 11`);
    for (const r of runs)
      assert.doesNotMatch(r, /--ignore-scripts|--dangerously-allow-all-scripts|--allow-scripts/);

    // npm ci needs every file: dependency's folder, copied before it runs.
    const ci = steps.findIndex((s) => s.op === 'RUN' && /\bnpm ci\b/.test(s.args));
    assert.ok(ci >= 0, 'no npm ci');
    const copiedBefore = steps
      .slice(0, ci)
      .filter((s) => s.op === 'COPY' && !s.args.startsWith('--from'))
      .flatMap((s) => s.args.split(' ').slice(0, -1));
    const fileDeps = Object.values({ ...pkg.dependencies, ...pkg.optionalDependencies })
      .filter((v) => v.startsWith('file:'))
      .map((v) => v.slice('file:'.length));
    for (const needed of ['package.json', 'package-lock.json', '.npmrc', ...fileDeps]) {
      assert.ok(copiedBefore.includes(needed), `${needed} is not copied before npm ci`);
    }
  });

  it('has the Vulkan loader, OpenBLAS, build tools and the graphics capability', () => {
    const packages = runs.filter((r) => r.includes('apt-get install')).join(' ');
    for (const p of ['libvulkan1', 'libopenblas-dev', 'build-essential', 'python3']) {
      assert.match(packages, new RegExp(`\\s${p}(\\s|$)`), `${p} is not installed`);
    }
    const env = steps
      .filter((s) => s.op === 'ENV')
      .map((s) => s.args)
      .join(' ');
    const caps = /NVIDIA_DRIVER_CAPABILITIES=(\S+)/.exec(env)?.[1]?.split(',') ?? [];
    for (const c of ['compute', 'utility', 'graphics']) assert.ok(caps.includes(c), `capability ${c}`);
  });

  it("runs the harmonium worker as uid 1000, without the host's node_modules", () => {
    const entrypoint = JSON.parse(steps.find((s) => s.op === 'ENTRYPOINT')?.args ?? '[]') as string[];
    const cli = entrypoint.indexOf('cli/harmonium.mjs');
    assert.ok(cli > 0 && entrypoint[0] === 'node', `ENTRYPOINT ${JSON.stringify(entrypoint)}`);
    assert.equal(entrypoint[cli + 1], 'worker');
    assert.ok(existsSync(join(ROOT, 'cli', 'harmonium.mjs')));
    assert.match(steps.filter((s) => s.op === 'USER').at(-1)?.args ?? '', /^1000(:1000)?$/);
    const ignored = readFileSync(join(GPU, 'Dockerfile.dockerignore'), 'utf8').split('\n');
    for (const p of ['node_modules', 'native/build']) assert.ok(ignored.includes(p), `${p} is not ignored`);
  });

  it('the overlay puts the workers, and only them, on the GPU image with one GPU each', () => {
    const base = baseObjects();
    const baseWorkers = find<Workload>(base, 'Deployment', 'harmonium-worker');
    const baseWorker = onlyContainer(baseWorkers);
    let worker: Container;
    // The GPU workers' grace period: the patch must not shorten the base's.
    let grace: number | undefined;
    if (!kubectlMissing) {
      const r = spawnSync('kubectl', ['kustomize', GPU], { encoding: 'utf8' });
      assert.equal(r.status, 0, `kubectl kustomize ${GPU} failed:\n${r.stderr}`);
      const objects = parseYamlDocuments(r.stdout, 'kubectl kustomize deploy/gpu') as K8sObject[];
      const workers = find<Workload>(objects, 'Deployment', 'harmonium-worker');
      worker = onlyContainer(workers);
      grace = workers.spec.template.spec.terminationGracePeriodSeconds;
      assert.deepEqual(workers.spec.strategy, baseWorkers.spec.strategy);
      const coordinator = onlyContainer(find<Workload>(objects, 'Deployment', 'harmonium-coordinator'));
      assert.match(worker.image, /^harmonium-gpu:.+/);
      assert.match(coordinator.image, /^harmonium:.+/);
      // The worker dials and advertises as in the base: the patch changes image and resources only.
      assert.deepEqual(worker.args, baseWorker.args);
      // ... and keeps the base's credentials.
      assert.deepEqual(worker.env, baseWorker.env);
      assert.deepEqual(worker.volumeMounts, baseWorker.volumeMounts);
      assert.deepEqual(workers.spec.template.spec.volumes, baseWorkers.spec.template.spec.volumes);
      assert.deepEqual(
        workers.spec.template.spec.securityContext,
        baseWorkers.spec.template.spec.securityContext,
      );
    } else {
      const kustomization = parse(readFileSync(join(GPU, 'kustomization.yaml'), 'utf8')) as {
        resources: string[];
        patches: { path: string }[];
        images?: { name: string }[];
      };
      assert.ok(
        kustomization.resources.some((r) => resolve(GPU, r) === K8S),
        'the overlay is not on deploy/k8s',
      );
      const patches = kustomization.patches.flatMap(
        (p) => parseYamlDocuments(readFileSync(join(GPU, p.path), 'utf8'), p.path) as K8sObject[],
      );
      const patched = find<Workload>(patches, 'Deployment', 'harmonium-worker');
      worker = onlyContainer(patched);
      grace =
        patched.spec.template.spec.terminationGracePeriodSeconds ??
        baseWorkers.spec.template.spec.terminationGracePeriodSeconds;
      assert.equal(worker.name, baseWorker.name, 'the patch names another container than the base worker');
      assert.ok(
        kustomization.images?.some((i) => i.name === worker.image),
        `no images entry for ${worker.image}`,
      );
      assert.ok(
        !patches.some((o) => o.metadata.name === 'harmonium-coordinator'),
        'the coordinator is patched',
      );
    }
    assert.equal(Number(worker.resources?.limits?.['nvidia.com/gpu']), 1);
    assert.ok(
      (grace ?? DEFAULT_GRACE_S) > leaveGraceSeconds(),
      `the GPU workers' grace period is ${grace} s`,
    );
    // --backend is a job option (submit); `harmonium worker` rejects it.
    assert.equal(flag(baseWorker.args, 'backend'), undefined);
  });
});

interface PortRule {
  readonly protocol?: string;
  readonly port?: number | string;
  readonly endPort?: number;
}

interface PolicyPeer {
  readonly podSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly namespaceSelector?: { readonly matchLabels?: Readonly<Record<string, string>> };
  readonly ipBlock?: unknown;
}

interface NetworkPolicy extends K8sObject {
  readonly spec: {
    readonly podSelector: { readonly matchLabels?: Readonly<Record<string, string>> };
    readonly policyTypes?: readonly string[];
    readonly ingress?: readonly { from?: readonly PolicyPeer[]; ports?: readonly PortRule[] }[];
  };
}

interface ConfigMap extends K8sObject {
  readonly data: Readonly<Record<string, string>>;
}

interface Certificate extends K8sObject {
  readonly spec: {
    readonly secretName: string;
    readonly isCA?: boolean;
    readonly dnsNames?: readonly string[];
    readonly usages?: readonly string[];
    readonly issuerRef: { readonly name: string; readonly kind?: string };
  };
}

interface Issuer extends K8sObject {
  readonly spec: { readonly selfSigned?: object; readonly ca?: { readonly secretName: string } };
}

/** As test/nats-server.ts finds it. */
const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find(existsSync) ?? 'nats-server';

/** The secrets every Harmonium process mounts, and the files its flags' variables name there. */
const TLS_SECRET = 'harmonium-tls';
const TOKEN_SECRET = 'harmonium-token';
const NATS_SECRET = 'harmonium-nats';

/** The pod templates of the base's workloads and of the submit example, by workload name. */
function podTemplates(objects: readonly K8sObject[]): Workload[] {
  return [
    ...objects.filter((o): o is Workload => ['Deployment', 'StatefulSet', 'Job'].includes(o.kind)),
    submitExample(),
  ];
}

/** The containers that run the Harmonium image (not NATS). */
function harmoniumContainers(w: Workload): Container[] {
  return w.spec.template.spec.containers.filter((c) => /^harmonium(-gpu)?(:|$)/.test(c.image));
}

function envValue(c: Container, name: string): string | undefined {
  return c.env?.find((e) => e.name === name)?.value;
}

/** Where `c` has key `key` of secret `secretName`: the file's path, after checking the mount. */
function secretFile(w: Workload, c: Container, secretName: string, key: string): string {
  const where = `${w.metadata.name}/${c.name}, secret ${secretName}`;
  const pod = w.spec.template.spec;
  const volume = pod.volumes?.find((v) => v.secret?.secretName === secretName);
  assert.ok(volume?.secret, `${where}: no volume of the secret`);
  const mount = c.volumeMounts?.find((m) => m.name === volume.name);
  assert.ok(mount, `${where}: the volume is not mounted`);
  assert.equal(mount.readOnly, true, `${where}: mounted writable`);
  // Root's files (the kubelet's), read by the process through its group: fsGroup.
  const mode = volume.secret.defaultMode ?? 0o644;
  assert.equal(mode & 0o077 & ~0o040, 0, `${where}: mode ${mode.toString(8)} gives more than group read`);
  assert.ok(
    mode & 0o040,
    `${where}: mode ${mode.toString(8)}: uid ${pod.securityContext?.runAsUser} cannot read`,
  );
  assert.equal(pod.securityContext?.fsGroup, pod.securityContext?.runAsUser, `${where}: no fsGroup`);
  assert.equal(pod.securityContext?.runAsNonRoot, true, `${where}: runAsNonRoot`);
  const items = volume.secret.items;
  const path = items === undefined ? key : items.find((i) => i.key === key)?.path;
  assert.ok(path, `${where}: key ${key} is not among the items`);
  return `${mount.mountPath}/${path}`;
}

/** Whether `policy` lets a pod labelled `from` (in namespace `fromNamespace`) reach `port` of its pods. */
function admits(
  policy: NetworkPolicy,
  from: Readonly<Record<string, string>>,
  fromNamespace: string,
  port: { name?: string; containerPort: number },
): boolean {
  const peerMatches = (peer: PolicyPeer): boolean => {
    if (peer.ipBlock !== undefined) return false;
    const ns = peer.namespaceSelector
      ? selects(peer.namespaceSelector.matchLabels ?? {}, { 'kubernetes.io/metadata.name': fromNamespace })
      : fromNamespace === NAMESPACE;
    return ns && selects(peer.podSelector?.matchLabels ?? {}, from);
  };
  const portMatches = (rule: PortRule): boolean => {
    if ((rule.protocol ?? 'TCP') !== 'TCP') return false;
    if (rule.port === undefined) return true;
    if (typeof rule.port === 'string') return rule.port === port.name;
    return port.containerPort >= rule.port && port.containerPort <= (rule.endPort ?? rule.port);
  };
  return (policy.spec.ingress ?? []).some(
    (rule) =>
      (rule.from === undefined || rule.from.some(peerMatches)) &&
      (rule.ports === undefined || rule.ports.some(portMatches)),
  );
}

/** Whether any of `policies` lets `from` reach `port` of the pods of `to`. */
function reaches(
  policies: readonly NetworkPolicy[],
  from: Readonly<Record<string, string>>,
  fromNamespace: string,
  to: Workload,
  port: { name?: string; containerPort: number },
): boolean {
  return policies
    .filter((p) => selects(p.spec.podSelector.matchLabels ?? {}, to.spec.template.metadata.labels))
    .some((p) => admits(p, from, fromNamespace, port));
}

/** The NATS server's container and the text of the config file it runs with (`-c FILE`, a ConfigMap). */
function natsConfig(objects: readonly K8sObject[]): { container: Container; text: string } {
  const server = find<Workload>(objects, 'StatefulSet', 'harmonium-nats');
  const container = onlyContainer(server);
  const args = container.args ?? [];
  const at = args.findIndex((a) => a === '-c' || a === '--config');
  const path = at >= 0 ? (args[at + 1] ?? '') : '';
  const dir = path.slice(0, path.lastIndexOf('/'));
  const mount = container.volumeMounts?.find((m) => m.mountPath === dir);
  assert.ok(mount, `nothing is mounted at ${dir} for the config file ${path}`);
  const volume = server.spec.template.spec.volumes?.find((v) => v.name === mount.name);
  assert.ok(volume?.configMap, `${mount.name} is not a ConfigMap`);
  const text = find<ConfigMap>(objects, 'ConfigMap', volume.configMap.name).data[path.slice(dir.length + 1)];
  assert.ok(text, `the ConfigMap ${volume.configMap.name} has no ${path.slice(dir.length + 1)}`);
  return { container, text };
}

function hasOpenssl(): boolean {
  return spawnSync('openssl', ['version']).status === 0;
}

/** Runs deploy/health-probe.mjs with `env` and `args`, without blocking this process's servers. */
function runProbe(
  env: Record<string, string>,
  args: string[],
): Promise<{ code: number | null; out: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [join(ROOT, 'deploy', 'health-probe.mjs'), ...args], {
      env: { PATH: process.env['PATH'] ?? '', ...env },
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('exit', (code) => done({ code, out: out.trim() }));
  });
}

describe('deploy/: security', () => {
  it('every Harmonium container has the TLS directory and the token of the secrets, and none --insecure', () => {
    const pods = podTemplates(baseObjects());
    const names: string[] = [];
    for (const w of pods) {
      for (const c of harmoniumContainers(w)) {
        names.push(w.metadata.name);
        const where = `${w.metadata.name}/${c.name}`;
        const words = [...(c.command ?? []), ...(c.args ?? [])];
        assert.ok(!words.some((a) => /^--insecure(=|$)/.test(a)), `${where} runs --insecure`);
        // A flag would override the environment checked below.
        for (const f of ['tls-dir', 'token-file'])
          assert.equal(flag(words, f), undefined, `${where}: --${f}`);
        const tlsDir = envValue(c, 'HARMONIUM_TLS_DIR');
        for (const file of ['ca.crt', 'tls.crt', 'tls.key']) {
          assert.equal(secretFile(w, c, TLS_SECRET, file), `${tlsDir}/${file}`, `${where}: ${file}`);
        }
        assert.equal(envValue(c, 'HARMONIUM_TOKEN_FILE'), secretFile(w, c, TOKEN_SECRET, 'token'), where);
        // Credentials come from secrets, never from the manifest itself.
        for (const e of c.env ?? []) {
          assert.ok(
            !/TOKEN$|PASSWORD|CREDS$/.test(e.name) || e.value?.startsWith('/'),
            `${where}: ${e.name}`,
          );
        }
      }
    }
    assert.deepEqual(names.sort(), ['harmonium-coordinator', 'harmonium-worker', 'submit-deep-ae']);
  });

  it('the base makes no secret: the credentials are made outside the repository', () => {
    const objects = baseObjects();
    assert.deepEqual(
      objects.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name),
      [],
    );
  });

  it('the images bind /metrics to every interface, for Prometheus in its own pod', () => {
    for (const file of [join(ROOT, 'deploy', 'Dockerfile'), join(GPU, 'Dockerfile')]) {
      const env = dockerInstructions(file)
        .filter((s) => s.op === 'ENV')
        .map((s) => s.args)
        .join(' ');
      assert.match(env, /(^|\s)HARMONIUM_METRICS_HOST=0\.0\.0\.0(\s|$)/, relative(ROOT, file));
    }
  });

  it('the coordinators log in to NATS, which takes only its user', () => {
    const objects = baseObjects();
    const coordinators = find<Workload>(objects, 'Deployment', 'harmonium-coordinator');
    const c = onlyContainer(coordinators);
    assert.equal(envValue(c, 'HARMONIUM_NATS_CREDS'), secretFile(coordinators, c, NATS_SECRET, 'creds'));

    const { text, container: nats } = natsConfig(objects);
    assert.match(text, /authorization\s*\{[^}]*user:\s*harmonium,\s*password:\s*\$NATS_PASSWORD\s*\}/);
    assert.doesNotMatch(text, /no_auth_user/);
    const password = nats.env?.find((e) => e.name === 'NATS_PASSWORD')?.valueFrom?.secretKeyRef;
    assert.deepEqual(password, { name: NATS_SECRET, key: 'password' });
    // The ports the Service and the probes use are the config's.
    assert.equal(Number(/^port:\s*(\d+)/m.exec(text)?.[1]), containerPort(nats, 'client'));
    assert.equal(Number(/^http_port:\s*(\d+)/m.exec(text)?.[1]), containerPort(nats, 'monitor'));
  });

  it('the NATS config admits the login of the README and refuses others', { skip: natsSkip }, async () => {
    const { text } = natsConfig(baseObjects());
    const dir = mkdtempSync(join(tmpdir(), 'harmonium-nats-auth-'));
    const port = await freePort();
    const url = `nats://127.0.0.1:${port}`;
    // As deploy/README.md makes it: a letter, then hex.
    const password = `h${randomBytes(24).toString('hex')}`;
    writeFileSync(join(dir, 'nats.conf'), text.replace('store_dir: /data', `store_dir: ${join(dir, 'js')}`));
    writeFileSync(join(dir, 'creds'), `harmonium:${password}`);
    writeFileSync(join(dir, 'wrong'), `harmonium:h${randomBytes(24).toString('hex')}`);
    const server = spawn(
      NATS_SERVER,
      ['-c', join(dir, 'nats.conf'), '-a', '127.0.0.1', '-p', String(port), '-m', String(await freePort())],
      { env: { ...process.env, NATS_PASSWORD: password }, stdio: 'ignore' },
    );
    try {
      const login = natsConnectionOptions(natsAccessFrom(url, { natsCreds: join(dir, 'creds') }));
      let nc: NatsConnection | undefined;
      for (const end = Date.now() + 10_000; nc === undefined;) {
        try {
          nc = await connect({ ...login, timeout: 500 });
        } catch (err) {
          if (Date.now() > end || server.exitCode !== null) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      // The user has JetStream, where the coordinators keep their state.
      const info = await (await jetstreamManager(nc)).getAccountInfo();
      assert.equal(typeof info.streams, 'number');
      await nc.close();
      const wrong = natsConnectionOptions(natsAccessFrom(url, { natsCreds: join(dir, 'wrong') }));
      await assert.rejects(connect({ ...wrong, timeout: 2000 }), /Authorization|AUTHORIZATION/);
      await assert.rejects(connect({ servers: url, timeout: 2000 }), /Authorization|AUTHORIZATION/);
    } finally {
      server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the NetworkPolicies admit only Harmonium pods, the other workers, the coordinators and Prometheus', () => {
    const objects = baseObjects();
    const policies = objects.filter((o): o is NetworkPolicy => o.kind === 'NetworkPolicy');
    const pods = podTemplates(objects);
    for (const w of pods) {
      const labels = w.spec.template.metadata.labels;
      // The peers below are selected by it; the kustomization's `labels` do not reach templates.
      assert.equal(labels?.['app.kubernetes.io/part-of'], 'harmonium', `${w.metadata.name}'s pods`);
      assert.ok(
        policies.some(
          (p) =>
            p.spec.policyTypes?.includes('Ingress') && selects(p.spec.podSelector.matchLabels ?? {}, labels),
        ),
        `no policy isolates ${w.metadata.name}'s pods`,
      );
    }
    const pod = (name: string): Workload => pods.find((w) => w.metadata.name === name)!;
    const labelsOf = (name: string) => pod(name).spec.template.metadata.labels ?? {};
    const coordinator = pod('harmonium-coordinator');
    const workers = pod('harmonium-worker');
    const nats = pod('harmonium-nats');
    const port = (w: Workload, name: string) => ({
      name,
      containerPort: containerPort(onlyContainer(w), name),
    });
    const grpc = port(coordinator, 'grpc');
    const stranger = { 'app.kubernetes.io/name': 'something-else' };

    for (const client of ['harmonium-worker', 'submit-deep-ae']) {
      assert.ok(
        reaches(policies, labelsOf(client), NAMESPACE, coordinator, grpc),
        `${client} -> coordinator`,
      );
    }
    assert.ok(!reaches(policies, stranger, NAMESPACE, coordinator, grpc), 'a pod not part of Harmonium');
    assert.ok(
      !reaches(policies, labelsOf('harmonium-worker'), 'default', coordinator, grpc),
      'another namespace',
    );

    // The collective endpoint listens on an ephemeral port: any, from another worker only.
    const ephemeral = { containerPort: 43_117 };
    assert.ok(
      reaches(policies, labelsOf('harmonium-worker'), NAMESPACE, workers, ephemeral),
      'worker -> worker',
    );
    for (const other of ['submit-deep-ae', 'harmonium-coordinator']) {
      assert.ok(!reaches(policies, labelsOf(other), NAMESPACE, workers, ephemeral), `${other} -> worker`);
    }

    const client = port(nats, 'client');
    assert.ok(
      reaches(policies, labelsOf('harmonium-coordinator'), NAMESPACE, nats, client),
      'coordinator -> NATS',
    );
    for (const other of ['harmonium-worker', 'submit-deep-ae']) {
      assert.ok(!reaches(policies, labelsOf(other), NAMESPACE, nats, client), `${other} -> NATS`);
    }
    assert.ok(!reaches(policies, labelsOf('harmonium-coordinator'), NAMESPACE, nats, port(nats, 'monitor')));

    // Prometheus, where deploy/prometheus/rbac.yaml has it, reaches every metrics port and no other.
    const rbac = parseYamlDocuments(
      readFileSync(join(ROOT, 'deploy', 'prometheus', 'rbac.yaml'), 'utf8'),
      'prometheus/rbac.yaml',
    ) as (K8sObject & { subjects?: { kind: string; namespace: string }[] })[];
    const monitoring = rbac
      .flatMap((o) => o.subjects ?? [])
      .find((s) => s.kind === 'ServiceAccount')?.namespace;
    assert.ok(monitoring, 'rbac.yaml names no service account');
    const prometheus = { 'app.kubernetes.io/name': 'prometheus' };
    let metricsPorts = 0;
    for (const w of [coordinator, workers]) {
      for (const p of onlyContainer(w).ports ?? []) {
        const admitted = reaches(policies, prometheus, monitoring, w, p);
        assert.equal(
          admitted,
          p.name?.startsWith('metrics') === true,
          `Prometheus -> ${w.metadata.name}:${p.name}`,
        );
        if (admitted) metricsPorts++;
      }
    }
    assert.ok(metricsPorts >= 1 + (workers.spec.replicas ?? 1));
    assert.ok(!reaches(policies, prometheus, monitoring, workers, ephemeral), 'Prometheus -> collective');
  });

  it('the readiness probe is in the image', () => {
    assert.ok(existsSync(join(ROOT, 'deploy', 'health-probe.mjs')));
    const steps = dockerInstructions(join(ROOT, 'deploy', 'Dockerfile'));
    const workdir = steps.filter((s) => s.op === 'WORKDIR').at(-1)?.args;
    assert.equal(HEALTH_PROBE_IN_IMAGE, `${workdir}/deploy/health-probe.mjs`);
    assert.ok(
      steps.some((s) => s.op === 'COPY' && s.args === '. .'),
      'the sources are not copied',
    );
    // BuildKit applies the last matching line: the exception must come after `deploy`.
    const ignored = readFileSync(join(ROOT, 'deploy', 'Dockerfile.dockerignore'), 'utf8').split('\n');
    const excluded = ignored.indexOf('deploy');
    const kept = ignored.indexOf('!deploy/health-probe.mjs');
    assert.ok(kept > excluded, 'deploy/health-probe.mjs is left out of the build context');
  });

  it(
    'the readiness probe answers over mutual TLS, SERVING or not',
    { skip: !hasOpenssl() && 'openssl is not installed (harmonium certs create needs it)' },
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'harmonium-probe-'));
      try {
        await createCertificates(join(dir, 'ours'));
        await createCertificates(join(dir, 'foreign'));
        const health = new HealthImplementation({ '': 'SERVING', 'harmonium.v1.Coordinator': 'SERVING' });
        const tls = ClusterCredentials.of(readTlsDir(join(dir, 'ours')), 'a-token-of-22-characters-at-least');
        const servers: Server[] = [];
        const serve = async (credentials: ClusterCredentials): Promise<number> => {
          const server = new Server();
          health.addToServer(server);
          servers.push(server);
          return new Promise((ok, fail) =>
            server.bindAsync('127.0.0.1:0', credentials.serverCredentials(), (e, p) => (e ? fail(e) : ok(p))),
          );
        };
        try {
          const port = String(await serve(tls));
          const ours = { HARMONIUM_TLS_DIR: join(dir, 'ours') };
          assert.deepEqual(await runProbe(ours, [port]), { code: 0, out: 'the server is SERVING' });
          assert.equal((await runProbe(ours, [`127.0.0.1:${port}`, 'harmonium.v1.Coordinator'])).code, 0);
          // A standby.
          health.setStatus('', 'NOT_SERVING');
          const standby = await runProbe(ours, [port]);
          assert.equal(standby.code, 1);
          assert.match(standby.out, /NOT_SERVING/);
          health.setStatus('', 'SERVING');
          // Another CA's certificate, or none: the handshake fails.
          assert.equal((await runProbe({ HARMONIUM_TLS_DIR: join(dir, 'foreign') }, [port])).code, 1);
          assert.equal((await runProbe({}, [port])).code, 1);
          // A coordinator run with --insecure: plaintext when there is no TLS directory.
          const plain = String(await serve(ClusterCredentials.INSECURE));
          assert.equal((await runProbe({}, [plain])).code, 0);
          // Nothing listening.
          const closed = await runProbe(ours, [String(await freePort())]);
          assert.equal(closed.code, 1);
        } finally {
          for (const s of servers) s.forceShutdown();
        }
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  );

  it('the cert-manager component issues harmonium-tls from a CA of its own, for the name harmonium', () => {
    const component = join(K8S, 'cert-manager');
    const kustomization = parse(readFileSync(join(component, 'kustomization.yaml'), 'utf8')) as {
      kind: string;
      resources: string[];
    };
    assert.equal(kustomization.kind, 'Component');
    let objects: K8sObject[];
    if (!kubectlMissing) {
      objects = renderWithComponent(component);
      // The base is all there.
      const base = baseObjects().map((o) => `${o.kind}/${o.metadata.name}`);
      assert.deepEqual(
        base.filter((n) => !objects.some((o) => `${o.kind}/${o.metadata.name}` === n)),
        [],
      );
    } else {
      objects = kustomization.resources.flatMap(
        (file) => parseYamlDocuments(readFileSync(join(component, file), 'utf8'), file) as K8sObject[],
      );
    }
    const certificates = objects.filter((o): o is Certificate => o.kind === 'Certificate');
    const issuers = objects.filter((o): o is Issuer => o.kind === 'Issuer');
    for (const o of [...certificates, ...issuers])
      assert.equal(o.metadata.namespace, NAMESPACE, o.metadata.name);

    const tls = certificates.find((c) => c.spec.secretName === TLS_SECRET);
    assert.ok(tls, `no Certificate makes the secret ${TLS_SECRET}`);
    // Every process is a server and a client of its peers, with this one certificate.
    for (const usage of ['server auth', 'client auth']) assert.ok(tls.spec.usages?.includes(usage), usage);
    // Peers check the name harmonium (workers are dialled by pod IP); the Service's names for other tools.
    const hosts = coordinatorAddresses(baseObjects()).map((a) => a.replace(/:\d+$/, ''));
    for (const name of ['harmonium', ...hosts]) assert.ok(tls.spec.dnsNames?.includes(name), name);
    assert.notEqual(tls.spec.isCA, true);

    const issuerOf = (c: Certificate): Issuer => {
      assert.equal(c.spec.issuerRef.kind ?? 'Issuer', 'Issuer', `${c.metadata.name}: a namespaced Issuer`);
      return find<Issuer>(issuers, 'Issuer', c.spec.issuerRef.name);
    };
    const caSecret = issuerOf(tls).spec.ca?.secretName;
    assert.ok(caSecret, `${tls.spec.issuerRef.name} is not a CA issuer`);
    const ca = certificates.find((c) => c.spec.secretName === caSecret);
    assert.ok(ca?.spec.isCA, `no CA Certificate makes ${caSecret}`);
    assert.ok(issuerOf(ca).spec.selfSigned, 'the CA is not self-signed');
  });
});

interface PodMonitor extends K8sObject {
  readonly spec: {
    readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
    readonly namespaceSelector?: { readonly matchNames?: readonly string[] };
    readonly podMetricsEndpoints: readonly { port: string; path?: string; honorLabels?: boolean }[];
  };
}

interface PrometheusRule extends K8sObject {
  readonly spec: { readonly groups: unknown[] };
}

interface ConfigMap extends K8sObject {
  readonly data: Readonly<Record<string, string>>;
}

describe('monitoring: deploy/k8s/monitoring, dashboards/kustomization.yaml, deploy/grafana', () => {
  const component = join(K8S, 'monitoring');
  const rules = parse(
    readFileSync(join(ROOT, 'deploy', 'prometheus', 'rules', 'harmonium.rules.yml'), 'utf8'),
  ) as { groups: unknown[] };

  /** The base with the component, as an overlay renders it; the component's own files without kubectl. */
  function rendered(): K8sObject[] {
    if (kubectlMissing) {
      const resources = ['podmonitor.yaml', 'prometheusrule.yaml'];
      return resources.flatMap(
        (f) => parseYamlDocuments(readFileSync(join(component, f), 'utf8'), f) as K8sObject[],
      );
    }
    return renderWithComponent(component);
  }

  it('the PrometheusRule holds the alert rules of deploy/prometheus/rules, word for word', () => {
    const rule = find<PrometheusRule>(rendered(), 'PrometheusRule', 'harmonium');
    assert.equal(rule.metadata.namespace, NAMESPACE);
    assert.deepEqual(rule.spec.groups, rules.groups);
  });

  it("the PodMonitor scrapes every metrics port of the coordinator's and the workers' pods, without honorLabels", () => {
    const monitor = find<PodMonitor>(rendered(), 'PodMonitor', 'harmonium');
    assert.equal(monitor.metadata.namespace, NAMESPACE);
    assert.deepEqual(monitor.spec.namespaceSelector?.matchNames, [NAMESPACE]);
    const scraped = monitor.spec.podMetricsEndpoints.map((e) => e.port).sort();
    const objects = baseObjects();
    for (const name of ['harmonium-coordinator', 'harmonium-worker']) {
      const workload = find<Workload>(objects, 'Deployment', name);
      const pods = workload.spec.template;
      for (const [k, v] of Object.entries(monitor.spec.selector.matchLabels))
        assert.equal(pods.metadata.labels?.[k], v, `${name}'s pods do not match the PodMonitor on ${k}`);
      const ports = (onlyContainer(workload).ports ?? [])
        .map((p) => p.name ?? '')
        .filter((p) => p.startsWith('metrics'));
      assert.ok(ports.length > 0, `${name} declares no metrics port`);
      for (const p of ports) assert.ok(scraped.includes(p), `${name}'s port ${p} is not scraped`);
    }
    for (const e of monitor.spec.podMetricsEndpoints) {
      assert.equal(e.path, '/metrics');
      assert.notEqual(e.honorLabels, true, `${e.port}: honorLabels`);
    }
  });

  it(
    'the dashboard ConfigMap carries the grafana_dashboard label and dashboards/harmonium.json as it is',
    {
      skip: kubectlMissing && 'kubectl is not on PATH (the configMapGenerator only runs under kustomize)',
    },
    () => {
      const map = find<ConfigMap>(rendered(), 'ConfigMap', 'harmonium-grafana-dashboard');
      assert.equal(map.metadata.namespace, NAMESPACE);
      assert.equal(map.metadata.labels?.['grafana_dashboard'], '1');
      assert.equal(
        map.data['harmonium.json'],
        readFileSync(join(ROOT, 'dashboards', 'harmonium.json'), 'utf8'),
      );
    },
  );

  it('Grafana provisioning: a Prometheus data source the dashboard can pick, and a file provider', () => {
    const provisioning = join(ROOT, 'deploy', 'grafana', 'provisioning');
    const sources = parse(readFileSync(join(provisioning, 'datasources', 'harmonium.yaml'), 'utf8')) as {
      apiVersion: number;
      datasources: { type: string; uid: string; url: string }[];
    };
    assert.equal(sources.apiVersion, 1);
    assert.deepEqual(
      sources.datasources.map((d) => d.type),
      ['prometheus'],
    );
    const dashboard = JSON.parse(
      readFileSync(join(ROOT, 'dashboards', 'harmonium.json'), 'utf8'),
    ) as Dashboard;
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    assert.equal(
      (variable as { query?: string } | undefined)?.query,
      'prometheus',
      'the dashboard picks a Prometheus',
    );
    const providers = parse(readFileSync(join(provisioning, 'dashboards', 'harmonium.yaml'), 'utf8')) as {
      apiVersion: number;
      providers: { type: string; options: { path: string } }[];
    };
    assert.equal(providers.apiVersion, 1);
    assert.equal(providers.providers[0]?.type, 'file');
    assert.match(providers.providers[0]!.options.path, /^\//);
  });
});
