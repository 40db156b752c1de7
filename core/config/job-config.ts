import { BACKEND_CHOICES, type BackendChoice } from '../compute/backend-choice.js';
import type { WireDtype } from '../collective/wire-dtype.js';
import { ConfigError } from '../errors.js';
import type { HyperValues, ModelDescription } from '../models/hyper.js';
import { describeModel } from '../models/model-catalogue.js';
import { parseOptionValue, suggest, type OptionSpec, type OptionValue } from './option-spec.js';

/** A complete, validated training job: everything the trainer reads, nothing else. */
export interface JobConfig {
  readonly model: string;
  readonly hyper: HyperValues;
  /** `fashion-mnist`, `idx:PATH`, `images:DIR` or `shards:DIR`. */
  readonly data: string;
  /** Use the first N training images; 0 means all. */
  readonly limit: number;
  /** Evaluate on the first N test images; 0 means all. */
  readonly testLimit: number;
  /** The test set, in the forms of `data`; '' means the held-out split of `data` itself. */
  readonly testData: string;
  /** Geometry images are resized to, for `images:DIR`. */
  readonly imageHeight: number;
  readonly imageWidth: number;
  readonly imageChannels: number;
  readonly epochs: number;
  readonly batchSize: number;
  readonly optimizer: 'sgd' | 'adam';
  readonly lr: number;
  readonly lrSchedule: 'constant' | 'cosine' | 'step';
  readonly warmupSteps: number;
  readonly momentum: number;
  readonly finalMomentum: number;
  readonly momentumSwitchEpoch: number;
  /** Adam's moment decays. */
  readonly beta1: number;
  readonly beta2: number;
  readonly seed: number;
  readonly backend: BackendChoice;
  /** Compute threads per process; 0: the host's cores shared among the job's processes on it. */
  readonly threads: number;
  readonly out: string;
  readonly resume: boolean;
  /** Steps between checkpoints; 0 means at the end of every epoch. */
  readonly checkpointEvery: number;
  readonly logEvery: number;
  readonly eval: boolean;
  readonly pictures: boolean;
  /** The most workers the job trains with; `batchSize` is the global batch whatever the world size. */
  readonly workers: number;
  /** The fewest workers the job trains with. */
  readonly minWorkers: number;
  /**
   * Seconds a job waits for `workers` before it starts with at least `minWorkers`, and waits below
   * `minWorkers` for replacements before it fails.
   */
  readonly rendezvousTimeout: number;
  /** Worker losses a job survives; the next one fails it. */
  readonly maxFailures: number;
  /** Write samples.jsonl: the corpus indices of every committed step's global batch. */
  readonly auditSamples: boolean;
  /** Coordinator's /metrics port (worker i serves P+1+i); 0 serves none. */
  readonly metricsPort: number;
  /** Steps between comparisons of the replicas' parameter digests; 0 disables them. */
  readonly digestEvery: number;
  /** Seconds one collective call may take before the job fails. */
  readonly collectiveTimeout: number;
  /** How the gradients travel in the all-reduce (sums stay float32); absent in older records: float32. */
  readonly allreduceDtype: WireDtype;
  /** MiB per bucket of the gradient all-reduce, started as the backward pass fills it (0: one all-reduce after it); absent in older records: the default. */
  readonly bucketMb?: number;
  /** Where a shards:URL corpus caches verified shards ('' for the default) and how many MiB it may; absent in older records: the defaults. */
  readonly shardCache?: string;
  readonly shardCacheMb?: number;
  /** Seconds a shards:URL request may stall; absent in older records: 30. */
  readonly dataTimeout?: number;
  /** Local SGD: inner steps between syncs (1: every step's gradient is all-reduced); absent in older records: 1. */
  readonly syncEvery: number;
  /** Local SGD's outer learning rate and Nesterov momentum (DiLoCo's outer step). */
  readonly outerLr: number;
  readonly outerMomentum: number;
  /** Seconds without a heartbeat after which a worker is declared lost. */
  readonly heartbeatTimeout: number;
  /** NATS servers the coordinator publishes job events to; '' for none. */
  readonly nats: string;
}

/** MiB per gradient bucket unless `--bucket-mb` says otherwise (and in records older than the option). */
export const DEFAULT_BUCKET_MB = 4;

/** Training options shared by every model; a model's own hyperparameters come from its description. */
export const TRAINING_OPTIONS: readonly OptionSpec[] = [
  { name: 'model', type: 'string', default: '', doc: 'model to train (see `harmonium models`)' },
  {
    name: 'data',
    type: 'string',
    default: 'fashion-mnist',
    doc: 'fashion-mnist | idx:PATH | images:DIR | shards:DIR | shards:http(s)://HOST/PATH (a corpus served over HTTP, read in ranges)',
  },
  {
    name: 'shard-cache',
    type: 'string',
    default: '',
    doc: 'directory caching the verified shards of a shards:URL corpus (default: harmonium-shard-cache in the temp directory)',
  },
  {
    name: 'shard-cache-mb',
    type: 'int',
    default: 2048,
    min: 0,
    doc: 'MiB the shard cache may hold; the least recently used shards go first (0: no cache)',
  },
  {
    name: 'data-timeout',
    type: 'float',
    default: 30,
    min: 0.1,
    doc: 'seconds a request of a shards:URL corpus may go without data before it is retried (4 times), then fails',
  },
  { name: 'limit', type: 'int', default: 0, min: 0, doc: 'use the first N training images (0: all)' },
  {
    name: 'test-limit',
    type: 'int',
    default: 0,
    min: 0,
    doc: 'evaluate on the first N test images (0: all)',
  },
  {
    name: 'test-data',
    type: 'string',
    default: '',
    doc: "test set, same forms as data (default: the data's own test split)",
  },
  {
    name: 'image-height',
    type: 'int',
    default: 28,
    min: 1,
    max: 4096,
    doc: 'height images:DIR is resized to',
  },
  { name: 'image-width', type: 'int', default: 28, min: 1, max: 4096, doc: 'width images:DIR is resized to' },
  {
    name: 'image-channels',
    type: 'int',
    default: 1,
    min: 1,
    max: 3,
    doc: '1 (grey) or 3 (RGB) for images:DIR',
  },
  { name: 'epochs', type: 'int', default: 5, min: 1, doc: 'passes over the training set' },
  { name: 'batch-size', type: 'int', default: 100, min: 1, doc: 'images per step' },
  { name: 'optimizer', type: 'enum', default: '', values: ['sgd', 'adam'], doc: "model's default if absent" },
  { name: 'lr', type: 'float', default: 0, min: 0, doc: "learning rate (model's default if absent)" },
  {
    name: 'lr-schedule',
    type: 'enum',
    default: 'constant',
    values: ['constant', 'cosine', 'step'],
    doc: 'constant; cosine to 1% of lr; step: x0.1 at 50% and 75% of training',
  },
  { name: 'warmup-steps', type: 'int', default: 0, min: 0, doc: 'linear learning-rate warm-up' },
  { name: 'momentum', type: 'float', default: -1, min: 0, max: 0.999, doc: 'SGD momentum at the start' },
  {
    name: 'final-momentum',
    type: 'float',
    default: -1,
    min: 0,
    max: 0.999,
    doc: 'SGD momentum after the switch',
  },
  {
    name: 'momentum-switch-epoch',
    type: 'int',
    default: -1,
    min: 0,
    doc: 'epoch at which momentum switches',
  },
  {
    name: 'beta1',
    type: 'float',
    default: -1,
    min: 0,
    max: 0.9999,
    doc: "Adam's first-moment decay (model's default if absent: 0.9, GANs 0.5)",
  },
  {
    name: 'beta2',
    type: 'float',
    default: -1,
    min: 0,
    max: 0.999999,
    doc: "Adam's second-moment decay (0.999)",
  },
  { name: 'seed', type: 'int', default: 1, min: 0, max: 2 ** 32 - 1, doc: 'run seed (init, order, noise)' },
  { name: 'backend', type: 'enum', default: 'auto', values: BACKEND_CHOICES, doc: 'compute backend' },
  {
    name: 'threads',
    type: 'int',
    default: 0,
    min: 0,
    max: 1024,
    doc: "compute threads per process (0: the host's cores shared among this job's processes on it)",
  },
  { name: 'out', type: 'string', default: '', doc: 'output directory (default runs/<model>)' },
  { name: 'resume', type: 'bool', default: false, doc: 'continue from <out>/checkpoint' },
  {
    name: 'checkpoint-every',
    type: 'int',
    default: 0,
    min: 0,
    doc: 'steps between checkpoints (0: each epoch)',
  },
  { name: 'log-every', type: 'int', default: 10, min: 1, doc: 'steps between metrics.jsonl lines' },
  {
    name: 'eval',
    type: 'bool',
    default: true,
    doc:
      'compute the test block after training (on by default: each figure beside its baseline): test reconstruction error ' +
      'and PCA of the code size fitted on the training set, linear probes on the codes and on the pixels, a 1,000-label ' +
      'fine-tune against random init, the model figures (ELBO, pseudo-likelihood, AIS log-likelihood), sample quality; ' +
      'about 7 s for the default ae on Fashion-MNIST; --no-eval skips it, --test-limit N shortens it',
  },
  { name: 'pictures', type: 'bool', default: true, doc: 'write the PNG pictures after training' },
  {
    name: 'workers',
    type: 'int',
    default: 1,
    min: 1,
    max: 1024,
    doc: 'the most workers the job trains with (local: worker processes); batch-size is the global batch',
  },
  {
    name: 'min-workers',
    type: 'int',
    default: 1,
    min: 1,
    max: 1024,
    doc: 'the fewest workers the job trains with; below it the job waits --rendezvous-timeout, then fails',
  },
  {
    name: 'rendezvous-timeout',
    type: 'float',
    default: 30,
    min: 0,
    doc: 'seconds to wait for --workers before starting with --min-workers, and below it before failing',
  },
  {
    name: 'max-failures',
    type: 'int',
    default: 10,
    min: 0,
    doc: 'worker losses the job survives (0: the first fails it); a graceful leave is not one',
  },
  {
    name: 'audit-samples',
    type: 'bool',
    default: false,
    doc: 'write samples.jsonl: the corpus indices of every committed step, to check exactly-once use',
  },
  {
    name: 'metrics-port',
    type: 'int',
    default: 0,
    min: 0,
    max: 65535,
    doc: 'coordinator /metrics port (worker rank i: P+1+i; with one worker, its own on P); 0: none',
  },
  {
    name: 'digest-every',
    type: 'int',
    default: 100,
    min: 0,
    doc: 'steps between parameter digest checks across workers (0: never)',
  },
  {
    name: 'collective-timeout',
    type: 'float',
    default: 60,
    min: 0.1,
    doc: 'seconds one all-reduce may take before its group is re-formed',
  },
  {
    name: 'allreduce-dtype',
    type: 'enum',
    default: 'float32',
    values: ['float32', 'bf16', 'fp16'],
    doc: 'how gradients travel in the all-reduce: bf16/fp16 halve the bytes (sums stay float32)',
  },
  {
    name: 'bucket-mb',
    type: 'float',
    default: DEFAULT_BUCKET_MB,
    min: 0,
    max: 1024,
    doc: 'MiB per gradient bucket: each is all-reduced as soon as the backward pass has filled it, while the layers below compute (0: one all-reduce after the backward pass)',
  },
  {
    name: 'sync-every',
    type: 'int',
    default: 1,
    min: 1,
    max: 100_000,
    doc: 'local SGD (DiLoCo): H inner steps per worker between syncs of the parameter change (1: all-reduce every step)',
  },
  {
    name: 'outer-lr',
    type: 'float',
    default: 0.7,
    min: 0,
    doc: "local SGD's outer learning rate (DiLoCo: 0.7)",
  },
  {
    name: 'outer-momentum',
    type: 'float',
    default: 0.5,
    min: 0,
    max: 0.999,
    doc: "local SGD's outer Nesterov momentum (DiLoCo's 0.9 is for H near 500; the deep AE at H = 10 stalls with it)",
  },
  {
    name: 'heartbeat-timeout',
    type: 'float',
    default: 5,
    min: 0.5,
    doc: 'seconds without a heartbeat before a worker is declared hung and the job re-forms without it',
  },
  {
    name: 'nats',
    type: 'string',
    default: '',
    doc: 'NATS server(s) the coordinator publishes job events to, e.g. nats://127.0.0.1:4222',
  },
];

/** Raw option values by source, before validation. Flags are strings (or `true` for a bare flag). */
export interface OptionSources {
  readonly flags: ReadonlyMap<string, string | true>;
  /** The environment; `HARMONIUM_BATCH_SIZE` sets `batch-size`. */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly jobFile: Readonly<Record<string, unknown>> | null;
  readonly jobFilePath?: string;
  /** How errors name the job file's source; default `job file PATH`. */
  readonly jobFileLabel?: string;
}

/** Where an option's raw value comes from, or null when no source sets it (its default applies). */
export interface FoundOption {
  readonly raw: unknown;
  readonly where: string;
}

function jobFileWhere(src: OptionSources): string {
  return src.jobFileLabel ?? (src.jobFilePath ? `job file ${src.jobFilePath}` : 'job file');
}

/** The raw value of `spec` by precedence: flag > environment > job file; null when none sets it. */
export function findOption(src: OptionSources, spec: OptionSpec): FoundOption | null {
  const flag = src.flags.get(spec.name);
  if (flag !== undefined) {
    if (flag === true && spec.type !== 'bool') {
      throw new ConfigError(`${spec.name} (flag --${spec.name})`, 'needs a value');
    }
    return { raw: flag, where: `flag --${spec.name}` };
  }
  const env = src.env[envName(spec.name)];
  if (env !== undefined && env !== '') return { raw: env, where: `environment ${envName(spec.name)}` };
  if (src.jobFile && spec.name in src.jobFile)
    return { raw: src.jobFile[spec.name], where: jobFileWhere(src) };
  return null;
}

export function envName(option: string): string {
  return `HARMONIUM_${option.replace(/-/g, '_').toUpperCase()}`;
}

/**
 * Compiles a job from its sources (flags > environment > job file > defaults) into a complete,
 * typed config. Any unknown flag or job-file field, or any value of the wrong type or range,
 * fails with a ConfigError naming the option, its source and what was expected.
 */
export function compileJobConfig(src: OptionSources): JobConfig {
  const jobWhere = jobFileWhere(src);
  const value = (spec: OptionSpec): OptionValue => {
    const found = findOption(src, spec);
    return found === null ? spec.default : parseOptionValue(spec, found.raw, found.where);
  };

  const modelSpec = TRAINING_OPTIONS[0]!;
  const modelName = value(modelSpec) as string;
  if (modelName === '') throw new ConfigError('model', 'required: give --model or `model:` in the job file');
  const entry: ModelDescription = describeModel(modelName);

  const known = [...TRAINING_OPTIONS, ...entry.hypers];
  const knownNames = known.map((s) => s.name);
  const checkKnown = (name: string, where: string): void => {
    if (!knownNames.includes(name)) {
      throw new ConfigError(
        name,
        `unknown ${where} for model ${entry.kind}${suggest(name, knownNames)}; known: ${knownNames.join(', ')}`,
      );
    }
  };
  for (const name of src.flags.keys()) checkKnown(name, `option --${name}`);
  if (src.jobFile) for (const name of Object.keys(src.jobFile)) checkKnown(name, `field in ${jobWhere}`);

  const get = (name: string): OptionValue => value(TRAINING_OPTIONS.find((s) => s.name === name)!);
  const hyper: Record<string, OptionValue> = {};
  for (const spec of entry.hypers) hyper[spec.name] = value(spec);

  const t = entry.training;
  const optimizer = (get('optimizer') as string) || t.optimizer;
  const num = (name: string, fallback: number, unset: number): number => {
    const v = get(name) as number;
    return v === unset ? fallback : v;
  };
  const out = (get('out') as string) || `runs/${entry.kind}`;
  const batchSize = get('batch-size') as number;
  const workers = get('workers') as number;
  const minWorkers = get('min-workers') as number;
  if (minWorkers > workers) {
    throw new ConfigError('min-workers', `${minWorkers} is more than --workers ${workers}`);
  }
  if (batchSize < workers) {
    throw new ConfigError(
      'batch-size',
      `the global batch ${batchSize} is smaller than --workers ${workers}: every worker needs an image a step`,
    );
  }
  if (get('image-channels') === 2)
    throw new ConfigError('image-channels', 'must be 1 (grey) or 3 (RGB), got 2');
  return {
    model: entry.kind,
    hyper,
    data: get('data') as string,
    limit: get('limit') as number,
    testLimit: get('test-limit') as number,
    testData: get('test-data') as string,
    imageHeight: get('image-height') as number,
    imageWidth: get('image-width') as number,
    imageChannels: get('image-channels') as number,
    epochs: get('epochs') as number,
    batchSize,
    optimizer: optimizer as 'sgd' | 'adam',
    lr: num('lr', t.lr, 0),
    lrSchedule: get('lr-schedule') as JobConfig['lrSchedule'],
    warmupSteps: get('warmup-steps') as number,
    momentum: num('momentum', t.momentum, -1),
    finalMomentum: num('final-momentum', t.finalMomentum, -1),
    momentumSwitchEpoch: num('momentum-switch-epoch', t.momentumSwitchEpoch, -1),
    beta1: num('beta1', t.beta1 ?? 0.9, -1),
    beta2: num('beta2', 0.999, -1),
    seed: get('seed') as number,
    backend: get('backend') as BackendChoice,
    threads: get('threads') as number,
    out,
    resume: get('resume') as boolean,
    checkpointEvery: get('checkpoint-every') as number,
    logEvery: get('log-every') as number,
    eval: get('eval') as boolean,
    pictures: get('pictures') as boolean,
    workers,
    minWorkers,
    rendezvousTimeout: get('rendezvous-timeout') as number,
    maxFailures: get('max-failures') as number,
    auditSamples: get('audit-samples') as boolean,
    metricsPort: get('metrics-port') as number,
    digestEvery: get('digest-every') as number,
    collectiveTimeout: get('collective-timeout') as number,
    allreduceDtype: get('allreduce-dtype') as WireDtype,
    bucketMb: get('bucket-mb') as number,
    shardCache: get('shard-cache') as string,
    shardCacheMb: get('shard-cache-mb') as number,
    dataTimeout: get('data-timeout') as number,
    syncEvery: get('sync-every') as number,
    outerLr: get('outer-lr') as number,
    outerMomentum: get('outer-momentum') as number,
    heartbeatTimeout: get('heartbeat-timeout') as number,
    nats: get('nats') as string,
  };
}

/**
 * Splits command-line words into `--name value` pairs. `--name=value` and `--no-name` (false) are
 * accepted; a flag followed by another flag (or nothing) is a bare boolean `true`.
 */
export function parseFlags(args: readonly string[]): Map<string, string | true> {
  const out = new Map<string, string | true>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--') || a === '--') {
      throw new ConfigError(a, 'unexpected argument: options are given as --name value');
    }
    const body = a.slice(2);
    const eq = body.indexOf('=');
    let name: string;
    let v: string | true;
    if (eq >= 0) {
      name = body.slice(0, eq);
      v = body.slice(eq + 1);
    } else if (body.startsWith('no-')) {
      name = body.slice(3);
      v = 'false';
    } else {
      name = body;
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        v = next;
        i++;
      } else {
        v = true;
      }
    }
    if (out.has(name)) throw new ConfigError(name, `given twice on the command line`);
    out.set(name, v);
  }
  return out;
}
