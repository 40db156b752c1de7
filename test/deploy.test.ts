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
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const NAMESPACE = 'harmonium';
/** terminationGracePeriodSeconds where a pod sets none. */
const DEFAULT_GRACE_S = 30;

interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

interface Container {
  readonly name: string;
  readonly image: string;
  readonly args?: readonly string[];
  readonly env?: readonly { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  readonly ports?: readonly { name?: string; containerPort: number }[];
  readonly volumeMounts?: readonly { name: string; mountPath: string }[];
  readonly readinessProbe?: { readonly grpc?: { readonly port: number } };
  readonly livenessProbe?: {
    readonly grpc?: { readonly port: number };
    readonly tcpSocket?: { readonly port: number };
  };
  readonly resources?: {
    readonly requests?: Readonly<Record<string, string | number>>;
    readonly limits?: Readonly<Record<string, string | number>>;
  };
}

interface PodTemplate {
  readonly metadata: Meta;
  readonly spec: {
    readonly terminationGracePeriodSeconds?: number;
    readonly containers: readonly Container[];
    readonly volumes?: readonly { name: string; persistentVolumeClaim?: { claimName: string } }[];
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
        const histogram = /^(.+)_(bucket|sum|count)$/.exec(name);
        const known = defined.has(name) || (histogram !== null && defined.get(histogram[1]!) === 'Histogram');
        if (!known) unknown.push(`${name} (${where})`);
      }
    }
    assert.deepEqual(unknown, [], `defined: ${[...defined.keys()].join(', ')}`);
    assert.ok(
      queries.some((q) => q.where === 'variable job' && q.expr === 'label_values(harmonium_job_state, job)'),
      'the job variable should list label_values(harmonium_job_state, job)',
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
    assert.equal(
      c.readinessProbe?.grpc?.port,
      containerPort(c, 'grpc'),
      'readiness asks grpc.health.v1 on the gRPC port (SERVING only on the leader)',
    );
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
    assert.ok(c.args?.includes('-js'), 'JetStream is on');
    const store = c.args?.[c.args.indexOf('-sd') + 1];
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
    // Harmonium's own `job` label (the job id) would otherwise become exported_job.
    assert.equal(scrape.honor_labels, true);
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
