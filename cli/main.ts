/**
 * The `harmonium` command line. Commands load what they need when they run, so that the
 * coordinator, status and cancel commands never load TensorFlow.js.
 */
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import type { JobConfig, OptionSources } from '../core/config/job-config.js';
import { ConfigError, HarmoniumError } from '../core/errors.js';
import { logFormat, setLogFormat, stderrLog } from '../core/logging/log.js';
import { takeLogFormatFlag } from './log-format-flag.js';
import {
  credentialFlags,
  takeCredentialFlags,
  withCredentialOptions,
  withNatsOptions,
} from './credential-flags.js';
import type { PackOptions } from './pack-command.js';
import { takeHttpPortFlag } from './http-port-flag.js';

/** Reads a YAML (or JSON) job file into a plain object of options. */
function readJobFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError('config', `cannot read job file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError('config', `job file ${path} is not valid YAML: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError('config', `job file ${path} must be a mapping of option: value`);
  }
  return doc as Record<string, unknown>;
}

/** The option sources of `train`/`submit` words: flags, --config FILE, HARMONIUM_* environment. */
async function argSources(args: string[]): Promise<OptionSources> {
  const { parseFlags } = await import('../core/config/job-config.js');
  const flags = parseFlags(args);
  const configPath = flags.get('config');
  flags.delete('config');
  if (configPath === true) throw new ConfigError('config (flag --config)', 'needs a file path');
  const jobFile = configPath === undefined ? null : readJobFile(configPath);
  return {
    flags,
    env: process.env,
    jobFile,
    ...(configPath === undefined ? {} : { jobFilePath: configPath }),
  };
}

/** Compiles `train` words into a job. */
async function compileArgs(args: string[]): Promise<JobConfig> {
  const { compileJobConfig } = await import('../core/config/job-config.js');
  return compileJobConfig(await argSources(args));
}

async function printTrainingHelp(usage: string): Promise<void> {
  const { TRAINING_OPTIONS } = await import('../core/config/job-config.js');
  console.log(`Usage: ${usage}\n\nTraining options:`);
  for (const s of TRAINING_OPTIONS) console.log(`  --${s.name.padEnd(24)} ${s.doc}`);
  console.log(
    '\nModel options: see `harmonium models`. Flags > HARMONIUM_* environment > job file > defaults.',
  );
}

/** Checks a coordinator list, HOST:PORT[,HOST:PORT...]; ConfigError naming `field` otherwise. */
function checkCoordinators(value: string, field: string): void {
  for (const one of value.split(',')) parseHostPort(one, field);
}

/** Splits HOST:PORT (IPv6 in brackets); ConfigError naming `field` otherwise. */
function parseHostPort(value: string, field: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) {
    throw new ConfigError(field, `expected HOST:PORT (e.g. 127.0.0.1:7070), got ${JSON.stringify(value)}`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

function fail(err: unknown): never {
  const error = stderrLog('cli', 'error');
  if (err instanceof HarmoniumError) {
    error(`harmonium: error [${err.code}]: ${err.message}`);
  } else {
    error(`harmonium: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  process.exit(err instanceof ConfigError ? 2 : 1);
}

const program = new Command('harmonium')
  .description('Train unsupervised image models (autoencoders, VAE, RBM) on TensorFlow.js')
  .showHelpAfterError();

program
  .command('train')
  .description(
    'train a model; options as flags and/or a YAML job file (--config FILE); see `harmonium models`',
  )
  .allowUnknownOption()
  .allowExcessArguments()
  .helpOption(false)
  .argument('[options...]')
  .action(async (args: string[]) => {
    if (args.includes('--help') || args.includes('-h')) {
      await printTrainingHelp(
        'harmonium train --model KIND [--config job.yaml] [--workers N [--insecure | --tls-dir DIR] [--http-port P]] [--log-format text|json] [options]',
      );
      return;
    }
    const { flags, rest: withoutCredentials } = takeCredentialFlags(args);
    const { port: httpPort, rest } = takeHttpPortFlag(withoutCredentials);
    const config = await compileArgs(rest);
    if (httpPort > 0 && config.workers < 2) {
      throw new ConfigError(
        'http-port',
        'the job page is served by the coordinator: train with --workers 2 or more, or submit to `harmonium coordinator --http-port`',
      );
    }
    if (config.workers > 1) {
      const { runLocalCluster } = await import('../coordinator/local-cluster.js');
      await runLocalCluster(config, { credentialFlags: flags, httpPort });
      stderrLog('cli')(`done: wrote ${config.out}/summary.json`);
    } else {
      const { runTraining } = await import('../core/train/trainer.js');
      const { releaseBackend } = await import('../core/compute/backend.js');
      await runTraining(config);
      await releaseBackend();
    }
  });

const coordinatorCommand = program
  .command('coordinator')
  .description(
    'run a coordinator that workers join and clients submit jobs to (jobs run side by side on disjoint workers)',
  )
  .requiredOption('--listen <host:port>', 'address to serve on, e.g. 0.0.0.0:7070')
  .option('--metrics-port <port>', "serve the running job's /metrics on this port (0: none)", '0')
  .option(
    '--metrics-host <host>',
    'interface /metrics binds to ($HARMONIUM_METRICS_HOST; plain HTTP, no secrets on it)',
    process.env['HARMONIUM_METRICS_HOST'] || '127.0.0.1',
  )
  .option(
    '--nats <servers>',
    'keep jobs, the queue and job events in NATS JetStream (e.g. nats://127.0.0.1:4222), so that a restarted coordinator takes them up',
    '',
  )
  .option(
    '--lease-ttl <seconds>',
    'with --nats: the leader lease; a standby takes over about this long after the leader stops',
    '5',
  )
  .option(
    '--adopt-grace <seconds>',
    'how long the workers of a running job taken up from NATS have to join again',
    '30',
  )
  .option(
    '--runs-dir <dir>',
    "directory every submitted job's output goes under (a job's out is relative to it)",
    'runs',
  )
  .option('--http-port <port>', "serve each job's live page at /jobs/ID/ on this port (0: none)", '0')
  .option(
    '--http-host <host>',
    'interface the job pages bind to ($HARMONIUM_HTTP_HOST; plain HTTP, read-only, no authentication)',
    process.env['HARMONIUM_HTTP_HOST'] || '127.0.0.1',
  );
withNatsOptions(withCredentialOptions(coordinatorCommand, true)).action(
  async (opts: {
    listen: string;
    metricsPort: string;
    metricsHost: string;
    httpPort: string;
    httpHost: string;
    nats: string;
    natsCreds?: string;
    natsTlsDir?: string;
    runsDir: string;
    adoptGrace: string;
    leaseTtl: string;
    tlsDir?: string;
    tokenFile?: string;
    insecure?: boolean;
  }) => {
    const { host, port } = parseHostPort(opts.listen, 'listen');
    const { resolveCredentials } = await import('../core/security/credential-options.js');
    const { natsAccessFrom } = await import('../core/control-plane/nats-access.js');
    const credentials = resolveCredentials(credentialFlags(opts), 'server');
    const { serveCoordinator } = await import('../coordinator/serve.js');
    const metricsPort = Number(opts.metricsPort);
    if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) {
      throw new ConfigError(
        'metrics-port',
        `expected a port 0-65535, got ${JSON.stringify(opts.metricsPort)}`,
      );
    }
    const httpPort = Number(opts.httpPort);
    if (!Number.isInteger(httpPort) || httpPort < 0 || httpPort > 65535) {
      throw new ConfigError('http-port', `expected a port 0-65535, got ${JSON.stringify(opts.httpPort)}`);
    }
    const ttl = Number(opts.leaseTtl);
    if (!(Number.isFinite(ttl) && ttl >= 0.5 && ttl <= 600)) {
      throw new ConfigError('lease-ttl', `must be a number of seconds in [0.5, 600], got "${opts.leaseTtl}"`);
    }
    const grace = Number(opts.adoptGrace);
    if (!(Number.isFinite(grace) && grace >= 0 && grace <= 3600)) {
      throw new ConfigError(
        'adopt-grace',
        `must be a number of seconds in [0, 3600], got "${opts.adoptGrace}"`,
      );
    }
    await serveCoordinator({
      host,
      port,
      metricsPort,
      metricsHost: opts.metricsHost,
      httpPort,
      httpHost: opts.httpHost,
      nats: natsAccessFrom(opts.nats, opts),
      credentials,
      runsDir: opts.runsDir,
      adoptGraceMs: grace * 1000,
      leaseTtlMs: ttl * 1000,
    });
  },
);

/** Seconds a leaving worker gets to finish its step and be released before it exits anyway. */
const LEAVE_GRACE_MS = 30_000;

const workerCommand = program
  .command('worker')
  .description(
    "join a coordinator's pool and train the jobs it assigns; SIGTERM leaves gracefully (a second one, or 30 s, at once)",
  )
  .requiredOption(
    '--coordinator <host:port,...>',
    'the coordinator to join, or a list of those sharing one NATS (the leader is found)',
  )
  .option('--listen-host <host>', 'address the collective endpoint listens on', '127.0.0.1')
  .option(
    '--metrics-host <host>',
    "interface a job's /metrics binds to ($HARMONIUM_METRICS_HOST)",
    process.env['HARMONIUM_METRICS_HOST'] || '127.0.0.1',
  )
  .option('--advertise-host <host>', 'address peers dial to reach this worker (default: --listen-host)')
  .option(
    '--threads <n>',
    "compute threads of this worker, overriding the job's threads (default: the job's)",
  )
  .option('--once', 'serve one job, then exit with its outcome')
  .option(
    '--coordinator-timeout <seconds>',
    'how long to train on without a coordinator (one restarting, or a standby taking over) before exiting',
    '60',
  );
withCredentialOptions(workerCommand, true).action(
  async (opts: {
    coordinator: string;
    listenHost: string;
    metricsHost: string;
    tlsDir?: string;
    tokenFile?: string;
    insecure?: boolean;
    advertiseHost?: string;
    threads?: string;
    once?: boolean;
    coordinatorTimeout: string;
  }) => {
    checkCoordinators(opts.coordinator, 'coordinator');
    const { resolveCredentials } = await import('../core/security/credential-options.js');
    const credentials = resolveCredentials(credentialFlags(opts), 'server');
    const timeout = Number(opts.coordinatorTimeout);
    if (!(Number.isFinite(timeout) && timeout >= 1 && timeout <= 86_400)) {
      throw new ConfigError(
        'coordinator-timeout',
        `must be a number of seconds in [1, 86400], got "${opts.coordinatorTimeout}"`,
      );
    }
    const threads = opts.threads === undefined ? undefined : Number(opts.threads);
    if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1 && threads <= 1024)) {
      throw new ConfigError('threads', `must be an integer in [1, 1024], got "${opts.threads}"`);
    }
    let leave: (why: string) => void = () => undefined;
    const leave$ = new Promise<string>((resolve) => (leave = resolve));
    let signals = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (++signals > 1) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      leave(signal);
      setTimeout(() => process.exit(128 + (signal === 'SIGINT' ? 2 : 15)), LEAVE_GRACE_MS).unref();
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
    const { runWorker } = await import('../worker/worker.js');
    const { releaseBackend } = await import('../core/compute/backend.js');
    await runWorker({
      coordinator: opts.coordinator,
      listenHost: opts.listenHost,
      metricsHost: opts.metricsHost,
      credentials,
      ...(opts.advertiseHost ? { advertiseHost: opts.advertiseHost } : {}),
      ...(threads ? { threads } : {}),
      once: opts.once === true,
      leave: leave$,
      coordinatorTimeoutMs: timeout * 1000,
    });
    await releaseBackend();
    // Handles the event loop may still hold (a keepalive timer) must not delay a worker that is done.
    process.exit(0);
  },
);

program
  .command('submit')
  .description('submit a training job to a running coordinator and follow it (training options as for train)')
  .allowUnknownOption()
  .allowExcessArguments()
  .helpOption(false)
  .argument('[options...]')
  .action(async (args: string[]) => {
    if (args.includes('--help') || args.includes('-h')) {
      await printTrainingHelp(
        'harmonium submit --coordinator HOST:PORT [--tls-dir DIR] [--token-file FILE] [--detach] [--job-id ID] --model KIND [options]',
      );
      return;
    }
    const taken = takeCredentialFlags(args);
    args = taken.rest;
    const { resolveCredentials } = await import('../core/security/credential-options.js');
    const credentials = resolveCredentials(taken.flags, 'client');
    const at = args.indexOf('--coordinator');
    const address = at >= 0 ? args[at + 1] : undefined;
    if (address === undefined) throw new ConfigError('coordinator', 'required: --coordinator HOST:PORT');
    checkCoordinators(address, 'coordinator');
    let rest = args.filter((_, i) => i !== at && i !== at + 1);
    const detach = rest.includes('--detach');
    rest = rest.filter((a) => a !== '--detach');
    const idAt = rest.indexOf('--job-id');
    const jobId = idAt >= 0 ? (rest[idAt + 1] ?? '') : '';
    if (idAt >= 0) {
      if (jobId === '') throw new ConfigError('job-id', 'needs a job id');
      rest = rest.filter((_, i) => i !== idAt && i !== idAt + 1);
    }
    const { compileJobConfig } = await import('../core/config/job-config.js');
    const { submissionOptions } = await import('../core/config/job-submission.js');
    const sources = await argSources(rest);
    // Compiled here for errors that name flags and files; the coordinator compiles the options again.
    const config = compileJobConfig(sources);
    const { submitJob } = await import('./submit-command.js');
    const { randomBytes } = await import('node:crypto');
    // Named here, so that a submission tried again on another coordinator is still one job.
    const id = jobId || `${config.model}-${randomBytes(4).toString('hex')}`;
    process.exitCode = await submitJob(address, submissionOptions(sources, config), {
      detach,
      jobId: id,
      credentials,
    });
  });

withCredentialOptions(
  program
    .command('status')
    .description("show a coordinator's jobs and workers")
    .requiredOption('--coordinator <host:port,...>', 'the coordinator to ask (or a list: the leader answers)')
    .option('--json', 'print the raw status as JSON'),
  false,
).action(
  async (opts: {
    coordinator: string;
    json?: boolean;
    tlsDir?: string;
    tokenFile?: string;
    insecure?: boolean;
  }) => {
    checkCoordinators(opts.coordinator, 'coordinator');
    const { resolveCredentials } = await import('../core/security/credential-options.js');
    const credentials = resolveCredentials(credentialFlags(opts), 'client');
    const { showStatus } = await import('./submit-command.js');
    await showStatus(opts.coordinator, opts.json === true, credentials);
  },
);

const logsCommand = program
  .command('logs')
  .description("print a job's events (state changes, progress, failures) from NATS JetStream, from the first")
  .argument('<job>', 'job id, as `harmonium submit` or `harmonium status` shows it')
  .option(
    '--nats <servers>',
    "the coordinator's NATS ($HARMONIUM_NATS when set)",
    process.env['HARMONIUM_NATS'] ?? 'nats://127.0.0.1:4222',
  )
  .option('-f, --follow', 'keep printing new events until the job ends')
  .option('--json', 'print each event as its JSON body');
withNatsOptions(logsCommand).action(
  async (
    jobId: string,
    opts: { nats: string; follow?: boolean; json?: boolean; natsCreds?: string; natsTlsDir?: string },
  ) => {
    const { showLogs } = await import('./logs-command.js');
    const { natsAccessFrom } = await import('../core/control-plane/nats-access.js');
    process.exitCode = await showLogs(natsAccessFrom(opts.nats, opts), jobId, {
      follow: opts.follow === true,
      json: opts.json === true,
    });
  },
);

withCredentialOptions(
  program
    .command('cancel')
    .description('cancel a job on a coordinator')
    .argument('<job>', 'job id, as `harmonium status` shows it')
    .requiredOption(
      '--coordinator <host:port,...>',
      'the coordinator running it (or a list: the leader answers)',
    ),
  false,
).action(
  async (
    jobId: string,
    opts: { coordinator: string; tlsDir?: string; tokenFile?: string; insecure?: boolean },
  ) => {
    checkCoordinators(opts.coordinator, 'coordinator');
    const { resolveCredentials } = await import('../core/security/credential-options.js');
    const credentials = resolveCredentials(credentialFlags(opts), 'client');
    const { cancelJob } = await import('./submit-command.js');
    await cancelJob(opts.coordinator, jobId, credentials);
  },
);

const certs = program.command('certs').description('certificates for mutual TLS');
certs
  .command('create')
  .description(
    'make a development CA, a node certificate (server and client use) and a token in DIR: ca.crt, ca.key, tls.crt, tls.key, token',
  )
  .argument('<dir>', 'directory to write (a CA already there is kept, and so is its token)')
  .option('--hosts <h1,h2,...>', 'host names and IP addresses besides harmonium, localhost and 127.0.0.1', '')
  .option('--days <n>', 'validity of the node certificate in days', '365')
  .action(async (dir: string, opts: { hosts: string; days: string }) => {
    const { createCertificates } = await import('../core/security/certificate-authority.js');
    const r = await createCertificates(dir, { hosts: opts.hosts.split(','), days: Number(opts.days) });
    console.log(`${r.reusedCa ? 'kept the CA in' : 'made a CA in'} ${dir}; wrote ${r.files.join(', ')}`);
    console.log(`every process: --tls-dir ${dir} (ca.key stays here: it goes into no secret). Kubernetes:`);
    console.log(
      `  kubectl -n harmonium create secret generic harmonium-tls --from-file=${dir}/ca.crt --from-file=${dir}/tls.crt --from-file=${dir}/tls.key`,
    );
    console.log(`  kubectl -n harmonium create secret generic harmonium-token --from-file=${dir}/token`);
  });

program
  .command('eval')
  .description('recompute the test block of summary.json from a checkpoint')
  .requiredOption('--checkpoint <dir>', 'checkpoint directory (e.g. runs/ae/checkpoint)')
  .option('--data <spec>', 'evaluate on this corpus instead of the one the model was trained on')
  .option('--test-data <spec>', "test set, same forms as --data (default: the run's test set)")
  .option('--test-limit <n>', 'evaluate on the first N test images', (v) => Number(v))
  .option('--backend <name>', 'compute backend', 'auto')
  .option(
    '--ais-betas <n>',
    "RBM, DBN: inverse temperatures of the AIS estimate of log Z (0: none; default: the run's)",
    (v) => Number(v),
  )
  .option('--ais-runs <n>', "RBM, DBN: AIS chains (default: the run's)", (v) => Number(v))
  .action(
    async (opts: {
      checkpoint: string;
      data?: string;
      testData?: string;
      testLimit?: number;
      backend: string;
      aisBetas?: number;
      aisRuns?: number;
    }) => {
      const { evaluateCheckpoint } = await import('../core/train/evaluate-checkpoint.js');
      const hyper = {
        ...(opts.aisBetas !== undefined ? { 'ais-betas': opts.aisBetas } : {}),
        ...(opts.aisRuns !== undefined ? { 'ais-runs': opts.aisRuns } : {}),
      };
      const report = await evaluateCheckpoint({ ...opts, hyper });
      console.log(JSON.stringify(report, null, 2));
    },
  );

program
  .command('report')
  .description('compare runs: one Markdown table and one HTML page from every summary.json under DIR')
  .argument('<dir>', 'directory searched for runs at any depth, e.g. runs')
  .option('--out <file>', 'write FILE.md and FILE.html (default: DIR/REPORT.md and DIR/REPORT.html)')
  .option(
    '--figures <keys>',
    'comma-separated test figures to show, in order (default: every figure any run has)',
  )
  .action(async (dir: string, opts: { out?: string; figures?: string }) => {
    const { writeReport } = await import('../core/report/write-report.js');
    const figures = opts.figures
      ?.split(',')
      .map((k) => k.trim())
      .filter((k) => k !== '');
    const r = await writeReport(dir, opts.out, figures ? { figures } : {});
    for (const w of r.warnings) stderrLog('cli', 'warn')(`harmonium: warning: ${w}`);
    console.log(`${r.runs} run(s): wrote ${r.paths.markdown} and ${r.paths.html}`);
  });

program
  .command('models')
  .description('list the models and their hyperparameters')
  .action(async () => {
    const { MODEL_ENTRIES } = await import('../core/models/registry.js');
    const { formatModels } = await import('./format-models.js');
    console.log(formatModels(MODEL_ENTRIES));
  });

const data = program.command('data').description('corpus tools');
data
  .command('pack')
  .description('write a corpus as WebDataset-style tar shards plus manifest.json')
  .argument('<src>', 'fashion-mnist | idx:PATH | images:DIR')
  .requiredOption('--out <dir>', 'output directory')
  .option('--shard-size <n>', 'images per shard', '10000')
  .option('--split <name>', 'train or test', 'train')
  .option('--image-height <n>', 'height images:DIR is resized to', '28')
  .option('--image-width <n>', 'width images:DIR is resized to', '28')
  .option('--image-channels <n>', '1 (grey) or 3 (RGB) for images:DIR', '1')
  .action(async (src: string, opts: PackOptions) => {
    const { packCommand } = await import('./pack-command.js');
    await packCommand(src, opts);
  });

program.option(
  '--log-format <format>',
  'log lines as text (default) or json: one JSON object per line with job, rank, generation and step (any command; or HARMONIUM_LOG_FORMAT)',
);

// `harmonium models | head`: a reader that stops early is not an error.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

try {
  const { format, rest } = takeLogFormatFlag(process.argv);
  if (format) setLogFormat(format);
  else logFormat(); // HARMONIUM_LOG_FORMAT checked now, not at the first line
  program.parseAsync(rest).catch(fail);
} catch (err) {
  fail(err);
}
