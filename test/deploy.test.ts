/**
 * Checks the deployment files against the code they deploy, so that a renamed metric or a changed
 * port, flag or name breaks a test instead of a cluster: every metric the Grafana dashboard queries
 * is defined in core/metrics, and the Kubernetes manifests wire the roles together (the coordinator's
 * address, ports and volume, the workers' advertised address, the ports Prometheus scrapes).
 *
 * The kustomize base is rendered with kubectl where kubectl is installed; elsewhere its resource
 * files are checked as written, which is what kustomize renders less the namespace, the labels on
 * metadata and the image tag.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { parse, parseAllDocuments } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const NAMESPACE = 'harmonium';

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
}

interface PodTemplate {
  readonly metadata: Meta;
  readonly spec: {
    readonly containers: readonly Container[];
    readonly volumes?: readonly { name: string; persistentVolumeClaim?: { claimName: string } }[];
  };
}

interface K8sObject {
  readonly kind: string;
  readonly metadata: Meta;
}

/** A Deployment or a Job: the kinds here that run pods. */
interface Workload extends K8sObject {
  readonly spec: { readonly replicas?: number; readonly template: PodTemplate };
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

    const example = parseYamlDocuments(
      readFileSync(join(K8S, 'examples', 'submit-deep-ae.yaml'), 'utf8'),
      'examples/submit-deep-ae.yaml',
    ) as K8sObject[];
    const submit = onlyContainer(find<Workload>(example, 'Job', 'submit-deep-ae'));
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
