/**
 * Compiles a job submitted as JSON (the coordinator API's `config_json`) exactly as `harmonium
 * submit` compiles the same options from a job file, so a client in any language need only send
 * the options it would write in one.
 */
import { nestsDeeperThan } from '../json-depth.js';
import { ConfigError } from '../errors.js';
import { describeModel } from '../models/model-catalogue.js';
import {
  compileJobConfig,
  findOption,
  TRAINING_OPTIONS,
  type JobConfig,
  type OptionSources,
} from './job-config.js';

/** The most UTF-8 bytes a submitted config may take: job files are a few hundred. */
export const MAX_SUBMISSION_BYTES = 64 * 1024;

/**
 * The deepest a submitted config may nest arrays and objects: options are scalars or lists, so
 * 2 is enough. JSON.parse takes any depth within MAX_SUBMISSION_BYTES, but an error message that
 * quotes a value thousands of levels deep would overflow the stack writing it.
 */
export const MAX_SUBMISSION_DEPTH = 8;

const FIELD = 'config_json';

/**
 * Parses `json`, a JSON object of job-file options such as `{"model": "ae", "epochs": 2}`, and
 * compiles it as a job file; `label` names that source in errors. As with `harmonium submit`, a
 * job without `out` gets `out: ''`, so that the coordinator picks its directory (the model's name
 * under its runs directory). The HARMONIUM_* environment is not read: a submitted job means the
 * same whichever coordinator receives it. Throws a ConfigError naming `config_json` for input over
 * MAX_SUBMISSION_BYTES, malformed JSON, a non-object or one nested deeper than
 * MAX_SUBMISSION_DEPTH, and one naming the option for anything a job file would be refused for:
 * any input at all gives a config or a ConfigError.
 */
export function compileSubmission(json: string, label = `SubmitJob ${FIELD}`): JobConfig {
  // Measured before parsing, so that an oversized request costs no parse.
  const bytes = Buffer.byteLength(json, 'utf8');
  if (bytes > MAX_SUBMISSION_BYTES) {
    throw new ConfigError(
      FIELD,
      `${bytes} bytes, more than the ${MAX_SUBMISSION_BYTES} a job config may take`,
    );
  }
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (err) {
    throw new ConfigError(FIELD, `not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) {
    const got = doc === null ? 'null' : Array.isArray(doc) ? 'an array' : typeof doc;
    throw new ConfigError(FIELD, `expected a JSON object of option: value, got ${got}`);
  }
  if (nestsDeeperThan(doc, MAX_SUBMISSION_DEPTH)) {
    throw new ConfigError(FIELD, `nests arrays and objects deeper than ${MAX_SUBMISSION_DEPTH} levels`);
  }
  const sources: OptionSources = {
    flags: new Map(),
    env: {},
    jobFile: doc as Record<string, unknown>,
    jobFileLabel: label,
  };
  const config = compileJobConfig(sources);
  const outSpec = TRAINING_OPTIONS.find((s) => s.name === 'out')!;
  return { ...config, out: findOption(sources, outSpec) === null ? '' : config.out };
}

/**
 * The options a client sends for the job it compiled from `sources` (flags, environment, job
 * file): every training option and hyperparameter of `config.model` that some source sets, by its
 * job-file name, with the value as given. {@link compileSubmission} of their JSON is `config`.
 */
export function submissionOptions(sources: OptionSources, config: JobConfig): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const spec of [...TRAINING_OPTIONS, ...describeModel(config.model).hypers]) {
    const found = findOption(sources, spec);
    if (found !== null) out[spec.name] = found.raw;
  }
  return out;
}
