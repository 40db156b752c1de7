/**
 * Kubernetes pods without a cluster, for test/k8s-pods.test.ts. The kustomize base is rendered by
 * kubectl, or where kubectl is missing by {@link renderKustomization}, which implements exactly the
 * features the base's kustomization.yaml uses and refuses any other. Each pod of a rendered workload
 * then runs as a real process in its own network namespace (test/netns.ts), started as the kubelet
 * starts its one container: the image's entrypoint or the container's command, its args with
 * `$(VAR)` expanded, its environment (the image's ENV, the Services' variables, literal values,
 * the downward API, secret and ConfigMap keys), its volumes as files with the owner and mode the
 * kubelet gives them, the user, groups and privileges of its securityContext, and its probes. Each
 * Service name resolves (/etc/netns/NAME/hosts) to the pod it selects.
 *
 * The one liberty taken is paths: the mount paths (/etc/harmonium/tls, /runs, /data, ...) cannot be
 * made on this machine, so every occurrence of a mount path in a container's command, args, env
 * values, probe commands and mounted ConfigMap files is rewritten to the directory that holds that
 * volume's files; the image's WORKDIR (/app, where its `COPY . .` puts the repository) is this
 * checkout. Everything else a manifest says is either run as written or named in an error: a field
 * this module does not emulate throws rather than being ignored, unless listed below as ignored.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { REPO } from './cli-helpers.js';
import { NetnsHosts } from './netns.js';

type Labels = Readonly<Record<string, string>>;

interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly labels?: Labels;
  readonly annotations?: Labels;
}

/** Any rendered object; the kinds read here are narrowed by the interfaces below. */
export interface K8sObject {
  readonly apiVersion?: string;
  readonly kind: string;
  readonly metadata: Meta;
}

/** A Secret (`data`, base64) or ConfigMap (`data`, text). */
export interface KeyedData extends K8sObject {
  readonly data?: Readonly<Record<string, string>>;
  readonly stringData?: Readonly<Record<string, string>>;
}

interface KeyRef {
  readonly name: string;
  readonly key: string;
  readonly optional?: boolean;
}

interface EnvVar {
  readonly name: string;
  readonly value?: string;
  readonly valueFrom?: {
    readonly fieldRef?: { readonly fieldPath: string };
    readonly secretKeyRef?: KeyRef;
    readonly configMapKeyRef?: KeyRef;
  };
}

type PortRef = number | string;

export interface Probe {
  readonly exec?: { readonly command: readonly string[] };
  readonly tcpSocket?: { readonly port: PortRef };
  readonly httpGet?: { readonly path?: string; readonly port: PortRef; readonly scheme?: string };
  readonly timeoutSeconds?: number;
}

export interface Container {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  readonly workingDir?: string;
  readonly env?: readonly EnvVar[];
  readonly ports?: readonly { readonly name?: string; readonly containerPort: number }[];
  readonly readinessProbe?: Probe;
  readonly livenessProbe?: Probe;
  readonly securityContext?: {
    readonly runAsUser?: number;
    readonly runAsGroup?: number;
    readonly runAsNonRoot?: boolean;
    readonly allowPrivilegeEscalation?: boolean;
    readonly capabilities?: { readonly drop?: readonly string[]; readonly add?: readonly string[] };
  };
  readonly volumeMounts?: readonly { readonly name: string; readonly mountPath: string }[];
}

interface KeyItems {
  readonly defaultMode?: number;
  readonly items?: readonly { readonly key: string; readonly path: string; readonly mode?: number }[];
}

interface Volume {
  readonly name: string;
  readonly secret?: KeyItems & { readonly secretName: string };
  readonly configMap?: KeyItems & { readonly name: string };
  readonly persistentVolumeClaim?: { readonly claimName: string };
  readonly emptyDir?: object;
}

interface PodSpec {
  readonly securityContext?: {
    readonly runAsUser?: number;
    readonly runAsGroup?: number;
    readonly runAsNonRoot?: boolean;
    readonly fsGroup?: number;
    readonly supplementalGroups?: readonly number[];
  };
  readonly enableServiceLinks?: boolean;
  readonly containers: readonly Container[];
  readonly volumes?: readonly Volume[];
}

/** A Deployment, StatefulSet or Job. */
export interface Workload extends K8sObject {
  readonly spec: {
    readonly template: { readonly metadata: { readonly labels?: Labels }; readonly spec: PodSpec };
    readonly volumeClaimTemplates?: readonly { readonly metadata: { readonly name: string } }[];
  };
}

export interface Service extends K8sObject {
  readonly spec: {
    readonly selector: Labels;
    readonly ports: readonly {
      readonly name?: string;
      readonly port: number;
      readonly targetPort?: PortRef;
    }[];
  };
}

/** Every document of a multi-document YAML text; an error names `where`. */
export function yamlDocuments(text: string, where: string): K8sObject[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${where}, document ${i + 1}: ${doc.errors[0]!.message}`);
    return doc.toJS() as K8sObject;
  });
}

/** The fields of a kustomization that {@link renderKustomization} implements. */
const KUSTOMIZE_FIELDS = new Set(['apiVersion', 'kind', 'namespace', 'resources', 'labels', 'images']);
/** Kinds whose namespace is their metadata.namespace alone (no field names another namespace). */
const NAMESPACED_KINDS = new Set([
  'ConfigMap',
  'Secret',
  'Service',
  'Deployment',
  'StatefulSet',
  'Job',
  'PersistentVolumeClaim',
  'PodDisruptionBudget',
  'NetworkPolicy',
]);
const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'Job', 'DaemonSet', 'ReplicaSet', 'CronJob']);

/**
 * Renders the kustomization in `dir` as `kubectl kustomize` does, for machines without kubectl:
 * `resources` (files), `namespace` (on namespaced objects), `labels` (pairs, on metadata only) and
 * `images` (newName, newTag, digest). Anything else throws: guessing how kustomize treats it would
 * make the test check a rendering no cluster gets.
 */
export function renderKustomization(dir: string): K8sObject[] {
  const file = join(dir, 'kustomization.yaml');
  const k = parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  const unsupported = (what: string): Error =>
    new Error(`${file}: ${what} is not rendered by test/k8s-pods.ts; install kubectl to render it`);
  const extra = Object.keys(k).filter((f) => !KUSTOMIZE_FIELDS.has(f));
  if (extra.length > 0) throw unsupported(`field ${extra.join(', ')}`);
  if (k['kind'] !== 'Kustomization') throw unsupported(`kind ${String(k['kind'])}`);
  const objects = ((k['resources'] ?? []) as string[]).flatMap((r) => {
    const path = join(dir, r);
    if (/^[a-z]+:\/\//.test(r) || !existsSync(path) || statSync(path).isDirectory())
      throw unsupported(`resource ${r} (not a file beside it)`);
    return yamlDocuments(readFileSync(path, 'utf8'), path) as unknown as Record<string, unknown>[];
  });
  const namespace = k['namespace'] as string | undefined;
  const labels = (k['labels'] ?? []) as Record<string, unknown>[];
  const images = (k['images'] ?? []) as Record<string, string>[];
  for (const l of labels)
    if (Object.keys(l).some((f) => f !== 'pairs'))
      throw unsupported(`labels with ${Object.keys(l).join(', ')}`);
  for (const i of images)
    if (Object.keys(i).some((f) => !['name', 'newName', 'newTag', 'digest'].includes(f)))
      throw unsupported(`images with ${Object.keys(i).join(', ')}`);
  for (const o of objects) {
    const kind = o['kind'] as string;
    const meta = o['metadata'] as Record<string, unknown>;
    if (namespace !== undefined) {
      if (NAMESPACED_KINDS.has(kind)) meta['namespace'] = namespace;
      else if (kind !== 'Namespace' || meta['name'] !== namespace)
        throw unsupported(`${kind} ${String(meta['name'])} under namespace ${namespace}`);
    }
    for (const l of labels)
      meta['labels'] = { ...(meta['labels'] as Labels | undefined), ...(l['pairs'] as Labels) };
    if (!WORKLOAD_KINDS.has(kind)) continue;
    if (kind !== 'Deployment' && kind !== 'StatefulSet' && kind !== 'Job') throw unsupported(`kind ${kind}`);
    const pod = (o['spec'] as { template: { spec: Record<string, unknown> } }).template.spec;
    for (const list of ['containers', 'initContainers']) {
      for (const c of (pod[list] ?? []) as Record<string, string>[]) {
        const m = /^([^:@]+)(?::([^@]*))?(?:@(.*))?$/.exec(c['image'] ?? '');
        const rule = m ? images.find((i) => i['name'] === m[1]) : undefined;
        if (!m || !rule) continue;
        const name = rule['newName'] ?? m[1];
        const tag = rule['newTag'] ?? m[2];
        c['image'] = rule['digest'] ? `${name}@${rule['digest']}` : tag ? `${name}:${tag}` : name!;
      }
    }
  }
  return objects as unknown as K8sObject[];
}

/** The rendered base: by kubectl where it is installed, else by {@link renderKustomization}. */
export function renderBase(dir: string): { objects: K8sObject[]; by: string } {
  const r = spawnSync('kubectl', ['kustomize', dir], { encoding: 'utf8' });
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
    return { objects: renderKustomization(dir), by: 'test/k8s-pods.ts (kubectl is not installed)' };
  if (r.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${r.stderr}`);
  return { objects: yamlDocuments(r.stdout, `kubectl kustomize ${dir}`), by: 'kubectl kustomize' };
}

/** What a container image runs, as its Dockerfile (or, for NATS, its published image) says. */
interface Image {
  readonly entrypoint: readonly string[];
  readonly cmd: readonly string[];
  readonly workdir: string;
  readonly env: Readonly<Record<string, string>>;
  readonly uid: number;
  readonly gid: number;
  /** What the entrypoint execs, given the whole command line. */
  readonly exec: (argv: readonly string[]) => string[];
}

/** The JSON-form words of a Dockerfile instruction's argument. */
function jsonWords(arg: string, where: string): string[] {
  const words = JSON.parse(arg) as unknown;
  if (!Array.isArray(words) || words.some((w) => typeof w !== 'string'))
    throw new Error(`${where}: only the JSON (exec) form is emulated, not ${arg}`);
  return words as string[];
}

/**
 * The image deploy/Dockerfile builds, read from the Dockerfile: ENTRYPOINT, CMD, WORKDIR, ENV and
 * USER of its last stage.
 */
function harmoniumImage(dockerfile: string): Image {
  const text = readFileSync(dockerfile, 'utf8').replace(/\\\n/g, ' ');
  let entrypoint: string[] = [];
  let cmd: string[] = [];
  let workdir = '/';
  let uid = 0;
  let gid = 0;
  let env: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^\s*([A-Z]+)\s+(.*?)\s*$/.exec(line);
    if (!m) continue;
    const [, op, arg] = m as unknown as [string, string, string];
    if (op === 'FROM') [entrypoint, cmd, workdir, uid, gid, env] = [[], [], '/', 0, 0, {}];
    else if (op === 'ENTRYPOINT') entrypoint = jsonWords(arg, `${dockerfile} ENTRYPOINT`);
    else if (op === 'CMD') cmd = jsonWords(arg, `${dockerfile} CMD`);
    else if (op === 'WORKDIR') workdir = resolve(workdir, arg);
    else if (op === 'USER') {
      const u = /^(\d+)(?::(\d+))?$/.exec(arg);
      if (!u) throw new Error(`${dockerfile}: USER ${arg} is not numeric uid[:gid]`);
      [uid, gid] = [Number(u[1]), Number(u[2] ?? u[1])];
    } else if (op === 'ENV') {
      if (!/^[A-Za-z_][A-Za-z0-9_]*=/.test(arg))
        throw new Error(`${dockerfile}: ENV ${arg}: only the KEY=value form is emulated`);
      for (const kv of arg.match(/[A-Za-z_][A-Za-z0-9_]*=("[^"]*"|\S*)/g) ?? []) {
        const at = kv.indexOf('=');
        env = { ...env, [kv.slice(0, at)]: kv.slice(at + 1).replace(/^"(.*)"$/, '$1') };
      }
    }
  }
  return { entrypoint, cmd, workdir, env, uid, gid, exec: (argv) => [...argv] };
}

/**
 * The official `nats:*-alpine` image: ENTRYPOINT docker-entrypoint.sh, CMD nats-server --config
 * /etc/nats/nats-server.conf, run as root; the entrypoint script puts `nats-server` in front of
 * arguments that begin with `-` (as the base's `-c FILE`) and execs the result. Its nats-server is
 * this machine's (any NATS 2.9+ serves the base, deploy/k8s/nats.yaml).
 */
const NATS_IMAGE: Image = {
  entrypoint: ['docker-entrypoint.sh'],
  cmd: ['nats-server', '--config', '/etc/nats/nats-server.conf'],
  workdir: '/',
  env: {},
  uid: 0,
  gid: 0,
  exec: (argv) => {
    if (argv[0] !== 'docker-entrypoint.sh') return [...argv];
    const rest = argv.slice(1);
    return rest.length === 0 || rest[0]!.startsWith('-') ? ['nats-server', ...rest] : rest;
  },
};

function imageOf(ref: string): Image {
  const name = /^(?:.*\/)?([^/:@]+)(?::([^@]*))?/.exec(ref);
  if (name?.[1] === 'harmonium') return harmoniumImage(join(REPO, 'deploy', 'Dockerfile'));
  if (name?.[1] === 'nats' && /-alpine/.test(name[2] ?? '')) return NATS_IMAGE;
  throw new Error(`image ${ref} is not emulated (deploy/Dockerfile's harmonium and nats:*-alpine are)`);
}

/** Fields of a pod spec and a container: emulated, or ignored for the reason given. */
const POD_FIELDS = new Set([
  'containers',
  'volumes',
  'securityContext',
  'enableServiceLinks',
  // Scheduling, restarts and the stop grace: each pod here starts once and is stopped at the end.
  'affinity',
  'tolerations',
  'nodeSelector',
  'restartPolicy',
  'terminationGracePeriodSeconds',
]);
const CONTAINER_FIELDS = new Set([
  'name',
  'image',
  'command',
  'args',
  'workingDir',
  'env',
  'volumeMounts',
  'readinessProbe',
  'livenessProbe',
  'securityContext',
  'ports',
  // Pulling and cgroup limits: the kernel here runs the processes unlimited.
  'imagePullPolicy',
  'resources',
]);
/** Of a container's securityContext: readOnlyRootFilesystem and seccomp are not emulated. */
const CONTAINER_SECURITY_FIELDS = new Set([
  'runAsUser',
  'runAsGroup',
  'runAsNonRoot',
  'allowPrivilegeEscalation',
  'capabilities',
  'readOnlyRootFilesystem',
]);
/** Of a pod's securityContext: fsGroupChangePolicy and seccomp change nothing the processes see. */
const POD_SECURITY_FIELDS = new Set([
  'runAsUser',
  'runAsGroup',
  'runAsNonRoot',
  'fsGroup',
  'supplementalGroups',
  'fsGroupChangePolicy',
  'seccompProfile',
]);

function onlyFields(obj: object | undefined, allowed: ReadonlySet<string>, where: string): void {
  const extra = Object.keys(obj ?? {}).filter((f) => !allowed.has(f));
  if (extra.length > 0) throw new Error(`${where}: ${extra.join(', ')} is not emulated by test/k8s-pods.ts`);
}

/** One emulated pod: a workload's pod template with a name, an address and its volumes on disk. */
export interface Pod {
  readonly name: string;
  readonly namespace: string;
  readonly workload: Workload;
  readonly labels: Labels;
  /** Its index among the emulation's hosts. */
  readonly host: number;
  readonly ip: string;
  readonly container: Container;
  /** How a path inside the container reads on this machine (mounts, the image's WORKDIR). */
  readonly paths: ReadonlyMap<string, string>;
  /** The container's process, as the kubelet starts it. */
  readonly argv: readonly string[];
  readonly env: Readonly<Record<string, string>>;
  readonly cwd: string;
  /** setpriv's arguments for the container's user, groups and privileges. */
  readonly privileges: readonly string[];
}

/** A started process and what it printed (stdout and stderr). */
export interface PodProcess {
  readonly child: ChildProcess;
  output(): string;
  readonly exit: Promise<number | null>;
}

/** How a command run to its end went: its exit code (null: killed) and what it printed. */
export interface Outcome {
  readonly code: number | null;
  readonly out: string;
}

/** The workloads to run and how many pods of each (the `replicas` a test scales them to). */
export interface PodPlan {
  readonly workload: Workload;
  readonly replicas: number;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * `text` with each container path of `paths` (at a path boundary, and its subpaths) replaced by
 * where it is on this machine, in one pass, so that a replacement is never rewritten again.
 */
function rewritePaths(text: string, paths: ReadonlyMap<string, string>): string {
  if (paths.size === 0) return text;
  const keys = [...paths.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const re = new RegExp(`(?<![\\w./-])(${keys.join('|')})(?![\\w.-])`, 'g');
  return text.replace(re, (p) => paths.get(p)!);
}

/**
 * Kubernetes' `$(VAR)` expansion of command, args and env values: a defined variable is replaced,
 * an undefined reference stays as written, and `$$` is a literal `$`.
 */
function expandVars(text: string, vars: Readonly<Record<string, string>>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name: string | undefined) =>
    m === '$$' ? '$' : name !== undefined && name in vars ? vars[name]! : m,
  );
}

/** The environment variable names Kubernetes derives from a Service's and a port's names. */
const envName = (s: string): string => s.toUpperCase().replace(/-/g, '_');

/** The PATH of the images (Debian's default) with this machine's node first, as `node` there. */
const PATH = [
  dirname(process.execPath),
  '/usr/local/sbin',
  '/usr/local/bin',
  '/usr/sbin',
  '/usr/bin',
  '/sbin',
  '/bin',
].join(':');

/** How the kubelet dials a tcpSocket or httpGet probe, run by node in the pod's namespace. */
const DIAL = `
const [kind, host, port, path] = process.argv.slice(1);
const fail = (e) => { console.error(e.message); process.exit(1); };
if (kind === 'tcp') require('net').connect(Number(port), host, () => process.exit(0)).on('error', fail);
else require('http').get({ host, port: Number(port), path }, (r) => {
  let body = ''; r.on('data', (d) => (body += d)); r.on('end', () => { console.log(r.statusCode + ' ' + body);
  process.exit(r.statusCode >= 200 && r.statusCode < 400 ? 0 : 1); });
}).on('error', fail);
`;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Pods of rendered workloads, each in its own network namespace with its volumes under `root`.
 * {@link PodEmulation.destroy} ends every process and removes the namespaces.
 */
export class PodEmulation {
  private constructor(
    private readonly net: NetnsHosts,
    readonly pods: readonly Pod[],
  ) {}

  /**
   * Emulates `plans` against `objects` (the rendered base and the Secrets a test made): names and
   * addresses the pods, writes the Services' names into every pod's hosts file, materialises the
   * volumes under `root` and resolves each container's process. Throws naming the field for what
   * the manifests get wrong or this module does not emulate (what it made is removed first).
   */
  static async create(opts: {
    objects: readonly K8sObject[];
    plans: readonly PodPlan[];
    root: string;
  }): Promise<PodEmulation> {
    const shapes = opts.plans.flatMap((p) =>
      Array.from({ length: p.replicas }, (_, i) => ({
        workload: p.workload,
        name: `${p.workload.metadata.name}-${i}`,
      })),
    );
    const net = await NetnsHosts.create({ hosts: shapes.length });
    try {
      chmodSync(opts.root, 0o755);
      const bare = shapes.map(({ workload, name }, host) => ({
        workload,
        name,
        host,
        namespace: workload.metadata.namespace ?? 'default',
        labels: workload.spec.template.metadata.labels ?? {},
        ip: net.hosts[host]!.address,
      }));
      const services = opts.objects.filter((o): o is Service => o.kind === 'Service');
      const names: Record<string, string> = {};
      const serviceIps = new Map<Service, string>();
      for (const s of services) {
        const ns = s.metadata.namespace ?? 'default';
        const selected = bare.filter(
          (p) => p.namespace === ns && Object.entries(s.spec.selector).every(([k, v]) => p.labels[k] === v),
        );
        // A Service routes to its ready pods; a hosts file holds one address per name: the first.
        const target = selected[0];
        if (target === undefined) continue;
        serviceIps.set(s, target.ip);
        const n = s.metadata.name;
        for (const name of [n, `${n}.${ns}`, `${n}.${ns}.svc`, `${n}.${ns}.svc.cluster.local`])
          names[name] = target.ip;
      }
      net.setHosts(names);
      const pods = bare.map((p) => resolvePod(p, opts.objects, services, serviceIps, opts.root));
      for (const p of pods) checkServiceAddresses(p, services);
      for (const s of serviceIps.keys())
        checkServicePorts(
          s,
          pods.find((p) => p.ip === serviceIps.get(s))!,
        );
      return new PodEmulation(net, readableAs(pods));
    } catch (err) {
      await net.destroy();
      throw err;
    }
  }

  /** The pods of workload `name`. */
  podsOf(name: string): Pod[] {
    return this.pods.filter((p) => p.workload.metadata.name === name);
  }

  /** Where container path `path` of `pod` is on this machine. */
  pathIn(pod: Pod, path: string): string {
    return rewritePaths(path, pod.paths);
  }

  /** Starts `pod`'s container (with `argv` in place of the one resolved from its manifest). */
  start(pod: Pod, argv: readonly string[] = pod.argv): PodProcess {
    return this.run(pod, argv);
  }

  /**
   * Runs `words` in `pod`'s container as `kubectl exec` or an exec probe does: its namespace,
   * environment, working directory and user; no `$(VAR)` expansion, paths rewritten.
   */
  exec(pod: Pod, words: readonly string[], timeoutMs: number): Promise<Outcome> {
    return this.finish(
      this.run(
        pod,
        words.map((w) => rewritePaths(w, pod.paths)),
      ),
      timeoutMs,
    );
  }

  /** An HTTP GET from `pod`'s namespace (as root, the kubelet or a scraper): the status and body. */
  httpGet(pod: Pod, host: string, port: number, path: string, timeoutMs = 5000): Promise<Outcome> {
    return this.dial(pod, ['http', host, String(port), path], timeoutMs);
  }

  /**
   * Runs `pod`'s readiness or liveness probe until it succeeds, every 250 ms (not the manifest's
   * period: the test waits on it, nothing times it), each try within its timeoutSeconds; returns
   * what the probe printed. Throws with the last failure after `deadlineMs`.
   */
  async probe(pod: Pod, which: 'readinessProbe' | 'livenessProbe', deadlineMs: number): Promise<string> {
    const probe = pod.container[which];
    if (probe === undefined) throw new Error(`${pod.name} has no ${which}`);
    onlyFields(
      probe,
      new Set([
        'exec',
        'tcpSocket',
        'httpGet',
        'initialDelaySeconds',
        'periodSeconds',
        'timeoutSeconds',
        'failureThreshold',
      ]),
      `${pod.name} ${which}`,
    );
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    const end = Date.now() + deadlineMs;
    for (;;) {
      let r: Outcome;
      if (probe.exec) r = await this.exec(pod, probe.exec.command, timeoutMs);
      else if (probe.tcpSocket)
        r = await this.dial(pod, ['tcp', pod.ip, String(portOf(pod, probe.tcpSocket.port))], timeoutMs);
      else if (probe.httpGet && (probe.httpGet.scheme ?? 'HTTP') === 'HTTP')
        r = await this.httpGet(
          pod,
          pod.ip,
          portOf(pod, probe.httpGet.port),
          probe.httpGet.path ?? '/',
          timeoutMs,
        );
      else throw new Error(`${pod.name} ${which}: only exec, tcpSocket and HTTP httpGet probes are emulated`);
      if (r.code === 0) return r.out;
      if (Date.now() > end)
        throw new Error(`${pod.name}: ${which} failed for ${deadlineMs} ms; last: ${r.out}`);
      await sleep(250);
    }
  }

  /** Ends every process and removes the namespaces. */
  destroy(): Promise<void> {
    return this.net.destroy();
  }

  private run(pod: Pod, argv: readonly string[]): PodProcess {
    const child = this.net.spawn(pod.host, 'setpriv', [...pod.privileges, ...argv], {
      cwd: pod.cwd,
      env: pod.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return collect(child);
  }

  private dial(pod: Pod, args: readonly string[], timeoutMs: number): Promise<Outcome> {
    const child = this.net.spawn(pod.host, process.execPath, ['-e', DIAL, ...args], {
      env: { PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return this.finish(collect(child), timeoutMs);
  }

  private async finish(p: PodProcess, timeoutMs: number): Promise<Outcome> {
    const timer = setTimeout(() => {
      try {
        if (p.child.pid !== undefined) process.kill(-p.child.pid, 'SIGKILL');
      } catch {
        // It ended as the deadline passed.
      }
    }, timeoutMs);
    const code = await p.exit;
    clearTimeout(timer);
    return { code, out: p.output().trim() || (code === null ? `no answer within ${timeoutMs} ms` : '') };
  }
}

function collect(child: ChildProcess): PodProcess {
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (text += d.toString()));
  const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => text, exit };
}

function portOf(pod: Pod, ref: PortRef): number {
  if (typeof ref === 'number') return ref;
  const port = pod.container.ports?.find((p) => p.name === ref);
  if (port === undefined) throw new Error(`${pod.name} declares no port named ${ref}`);
  return port.containerPort;
}

/** Secret or ConfigMap `name` of `namespace`; `where` names who asks in the error. */
function keyed(
  objects: readonly K8sObject[],
  kind: 'Secret' | 'ConfigMap',
  namespace: string,
  name: string,
  where: string,
): KeyedData {
  const o = objects.find(
    (x) => x.kind === kind && x.metadata.name === name && (x.metadata.namespace ?? 'default') === namespace,
  );
  if (o === undefined) throw new Error(`${where}: no ${kind} ${name} in namespace ${namespace}`);
  return o as KeyedData;
}

/** Key `key` of `o` as bytes (a Secret's `data` is base64). */
function keyOf(o: KeyedData, key: string, where: string): Buffer {
  const data = o.data?.[key];
  if (data !== undefined) return Buffer.from(data, o.kind === 'Secret' ? 'base64' : 'utf8');
  const text = o.stringData?.[key];
  if (text === undefined) throw new Error(`${where}: ${o.kind} ${o.metadata.name} has no key ${key}`);
  return Buffer.from(text, 'utf8');
}

/** The keys a secret or ConfigMap volume projects: its items, or every key. */
function projected(o: KeyedData, items: KeyItems['items']): { key: string; path: string; mode?: number }[] {
  if (items !== undefined) return [...items];
  return Object.keys({ ...o.data, ...o.stringData }).map((key) => ({ key, path: key }));
}

/** Resolves a pod's container: volumes written under `root`, its environment and process. */
function resolvePod(
  p: Omit<Pod, 'container' | 'paths' | 'argv' | 'env' | 'cwd' | 'privileges'>,
  objects: readonly K8sObject[],
  services: readonly Service[],
  serviceIps: ReadonlyMap<Service, string>,
  root: string,
): Pod {
  const spec = p.workload.spec.template.spec;
  const where = `${p.workload.kind} ${p.workload.metadata.name}`;
  onlyFields(spec, POD_FIELDS, `${where} pod spec`);
  onlyFields(spec.securityContext, POD_SECURITY_FIELDS, `${where} securityContext`);
  if (spec.containers.length !== 1) throw new Error(`${where}: only one container per pod is emulated`);
  const container = spec.containers[0]!;
  onlyFields(container, CONTAINER_FIELDS, `${where} container ${container.name}`);
  onlyFields(container.securityContext, CONTAINER_SECURITY_FIELDS, `${where} container securityContext`);
  const image = imageOf(container.image);
  const fsGroup = spec.securityContext?.fsGroup;

  // Volumes as the kubelet makes them: secret and ConfigMap files root's, of group fsGroup with
  // mode | 0440; a claim's directory group-writable by fsGroup (setgid); an emptyDir 0777.
  const podDir = join(root, p.name);
  mkdirSync(podDir, { mode: 0o755 });
  const volumeDirs = new Map<string, string>();
  const configMapFiles: string[] = [];
  const ownDir = (dir: string, mode: number): void => {
    mkdirSync(dir, { recursive: true });
    chownSync(dir, 0, fsGroup ?? 0);
    chmodSync(dir, mode);
  };
  for (const v of spec.volumes ?? []) {
    const dir = join(podDir, v.name);
    onlyFields(
      v,
      new Set(['name', 'secret', 'configMap', 'persistentVolumeClaim', 'emptyDir']),
      `${where} volume ${v.name}`,
    );
    if (v.secret || v.configMap) {
      const [kind, name, items] = v.secret
        ? (['Secret', v.secret.secretName, v.secret] as const)
        : (['ConfigMap', v.configMap!.name, v.configMap!] as const);
      ownDir(dir, fsGroup === undefined ? 0o755 : 0o2755);
      const at = `${where} volume ${v.name}`;
      const source = keyed(objects, kind, p.namespace, name, at);
      for (const item of projected(source, items.items)) {
        const file = join(dir, item.path);
        mkdirSync(dirname(file), { recursive: true });
        writeFileSync(file, keyOf(source, item.key, at));
        chownSync(file, 0, fsGroup ?? 0);
        chmodSync(file, (item.mode ?? items.defaultMode ?? 0o644) | (fsGroup === undefined ? 0 : 0o440));
        if (kind === 'ConfigMap') configMapFiles.push(file);
      }
    } else if (v.persistentVolumeClaim) {
      const claim = v.persistentVolumeClaim.claimName;
      const found = objects.some((o) => o.kind === 'PersistentVolumeClaim' && o.metadata.name === claim);
      if (!found) throw new Error(`${where} volume ${v.name}: no PersistentVolumeClaim ${claim}`);
      const shared = join(root, 'claims', claim);
      ownDir(shared, fsGroup === undefined ? 0o755 : 0o2775);
      volumeDirs.set(v.name, shared);
      continue;
    } else if (v.emptyDir) {
      ownDir(dir, 0o777);
    }
    volumeDirs.set(v.name, dir);
  }
  // A StatefulSet's claim per pod, named <template>-<pod> as the controller names it.
  for (const t of p.workload.spec.volumeClaimTemplates ?? []) {
    const dir = join(root, 'claims', `${t.metadata.name}-${p.name}`);
    ownDir(dir, fsGroup === undefined ? 0o755 : 0o2775);
    volumeDirs.set(t.metadata.name, dir);
  }
  const paths = new Map<string, string>();
  for (const m of container.volumeMounts ?? []) {
    onlyFields(m, new Set(['name', 'mountPath', 'readOnly']), `${where} volumeMount ${m.name}`);
    const dir = volumeDirs.get(m.name);
    if (dir === undefined) throw new Error(`${where}: volumeMount ${m.name} names no volume`);
    paths.set(m.mountPath, dir);
  }
  if (image.workdir !== '/' && !paths.has(image.workdir)) paths.set(image.workdir, REPO);
  // A ConfigMap file that names a mount path (nats.conf's store_dir /data) reads the rewritten one.
  for (const file of configMapFiles) writeFileSync(file, rewritePaths(readFileSync(file, 'utf8'), paths));

  // The environment: the image's, then the Services' variables, then the container's own.
  const links: Record<string, string> = {};
  if (spec.enableServiceLinks !== false) {
    for (const s of services) {
      const ip = serviceIps.get(s);
      if (ip === undefined || (s.metadata.namespace ?? 'default') !== p.namespace) continue;
      const n = envName(s.metadata.name);
      const first = s.spec.ports[0]!;
      Object.assign(links, {
        [`${n}_SERVICE_HOST`]: ip,
        [`${n}_SERVICE_PORT`]: String(first.port),
        [`${n}_PORT`]: `tcp://${ip}:${first.port}`,
      });
      for (const port of s.spec.ports) {
        const base = `${n}_PORT_${port.port}_TCP`;
        if (port.name !== undefined) links[`${n}_SERVICE_PORT_${envName(port.name)}`] = String(port.port);
        Object.assign(links, {
          [base]: `tcp://${ip}:${port.port}`,
          [`${base}_PROTO`]: 'tcp',
          [`${base}_PORT`]: String(port.port),
          [`${base}_ADDR`]: ip,
        });
      }
    }
  }
  const raw: Record<string, string> = { ...links };
  for (const e of container.env ?? []) {
    const at = `${where} env ${e.name}`;
    const from = e.valueFrom;
    onlyFields(from, new Set(['fieldRef', 'secretKeyRef', 'configMapKeyRef']), at);
    if (from === undefined) raw[e.name] = expandVars(e.value ?? '', raw);
    else if (from.fieldRef) {
      const field = from.fieldRef.fieldPath;
      const value = { 'status.podIP': p.ip, 'metadata.name': p.name, 'metadata.namespace': p.namespace }[
        field
      ];
      if (value === undefined) throw new Error(`${at}: fieldRef ${field} is not emulated`);
      raw[e.name] = value;
    } else {
      const [kind, ref] = from.secretKeyRef
        ? (['Secret', from.secretKeyRef] as const)
        : (['ConfigMap', from.configMapKeyRef!] as const);
      raw[e.name] = keyOf(keyed(objects, kind, p.namespace, ref.name, at), ref.key, at).toString('utf8');
    }
  }
  const env: Record<string, string> = { PATH, HOSTNAME: p.name, ...image.env };
  for (const [k, v] of Object.entries(raw)) env[k] = rewritePaths(v, paths);

  // The process: the command replaces the entrypoint (and then the image's CMD is not used), args
  // replace CMD; $(VAR) is expanded with the container's variables, before paths are rewritten.
  const words =
    container.command !== undefined
      ? [...container.command, ...(container.args ?? [])]
      : [...image.entrypoint, ...(container.args ?? image.cmd)];
  const argv = image.exec(words.map((w) => rewritePaths(expandVars(w, raw), paths)));
  const cwd = rewritePaths(container.workingDir ?? image.workdir, paths);

  const sc = { ...spec.securityContext, ...container.securityContext };
  const uid = sc.runAsUser ?? image.uid;
  const gid = sc.runAsGroup ?? image.gid;
  if (sc.runAsNonRoot === true && uid === 0)
    throw new Error(`${where}: runAsNonRoot, but the container would run as root (the kubelet refuses it)`);
  const groups = [
    ...new Set([
      ...(fsGroup === undefined ? [] : [fsGroup]),
      ...(spec.securityContext?.supplementalGroups ?? []),
    ]),
  ];
  const caps = container.securityContext?.capabilities;
  if (caps?.add?.length) throw new Error(`${where}: added capabilities are not emulated`);
  const privileges = [
    `--reuid=${uid}`,
    `--regid=${gid}`,
    groups.length === 0 ? '--clear-groups' : `--groups=${groups.join(',')}`,
    ...(container.securityContext?.allowPrivilegeEscalation === false ? ['--no-new-privs'] : []),
    ...(caps?.drop?.includes('ALL') ? ['--inh-caps=-all', '--bounding-set=-all'] : []),
  ];
  return { ...p, container, paths, argv, env, cwd, privileges };
}

/**
 * Every `SERVICE:PORT` a container is given (in its args or env, `nats://` forms too) must name a
 * port of that Service: clients here reach the pod's port directly, so a port that only the
 * container declares would work here and nowhere else.
 */
function checkServiceAddresses(pod: Pod, services: readonly Service[]): void {
  const words = [...pod.argv, ...Object.values(pod.env)];
  for (const s of services) {
    const n = escapeRegExp(s.metadata.name);
    const re = new RegExp(`(?:^|[/@,])${n}(?:\\.[a-z0-9.-]+)?:(\\d+)(?![\\d])`, 'g');
    for (const w of words)
      for (const m of w.matchAll(re))
        if (!s.spec.ports.some((p) => p.port === Number(m[1])))
          throw new Error(`${pod.name}: ${m[0]} is no port of Service ${s.metadata.name}`);
  }
}

/**
 * Each port of Service `s` targets a port `pod` declares, with the same number: names resolve to
 * pod addresses here, so a client reaches the pod on the Service's port, with no kube-proxy between.
 */
function checkServicePorts(s: Service, pod: Pod): void {
  for (const port of s.spec.ports) {
    const ref = port.targetPort ?? port.port;
    const declared = pod.container.ports?.find((p) =>
      typeof ref === 'string' ? p.name === ref : p.containerPort === ref,
    );
    if (declared === undefined)
      throw new Error(
        `Service ${s.metadata.name} port ${port.port} targets ${ref}, which ${pod.name} does not declare`,
      );
    if (declared.containerPort !== port.port)
      throw new Error(
        `Service ${s.metadata.name} maps port ${port.port} to ${declared.containerPort}: the emulation has no kube-proxy to do that`,
      );
  }
}

/**
 * The container users must read the code, as the image's /app is readable by its user. A checkout
 * that is not (a parent directory closed to others, as some CI machines make them) runs those pods
 * as root instead, said on stderr: the flags, env, mounts and ports are still the manifests'.
 */
function readableAs(pods: readonly Pod[]): Pod[] {
  const bin = join(REPO, 'cli', 'harmonium.mjs');
  return pods.map((p) => {
    if (p.cwd !== REPO) return p;
    const r = spawnSync('setpriv', [...p.privileges, 'test', '-r', bin], { env: { PATH } });
    if (r.status === 0) return p;
    console.error(
      `${p.name}: its user (${p.privileges.slice(0, 2).join(' ')}) cannot read ${bin} (this checkout is not ` +
        'world-readable, as /app is in the image): it runs as root here',
    );
    return {
      ...p,
      privileges: p.privileges.map((a) =>
        a.startsWith('--reuid=') ? '--reuid=0' : a.startsWith('--regid=') ? '--regid=0' : a,
      ),
    };
  });
}
