import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { compileJobConfig, parseFlags, TRAINING_OPTIONS } from '../core/config/job-config.js';
import { ConfigError, HarmoniumError } from '../core/errors.js';
import { MODEL_ENTRIES } from '../core/models/registry.js';
import { evaluateCheckpoint } from '../core/train/evaluate-checkpoint.js';
import { runTraining } from '../core/train/trainer.js';
import { packCommand, type PackOptions } from './pack-command.js';
import { formatModels } from './format-models.js';

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

function fail(err: unknown): never {
  if (err instanceof HarmoniumError) {
    console.error(`harmonium: error [${err.code}]: ${err.message}`);
  } else {
    console.error(
      `harmonium: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`,
    );
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
      console.log('Usage: harmonium train --model KIND [--config job.yaml] [options]\n\nTraining options:');
      for (const s of TRAINING_OPTIONS) console.log(`  --${s.name.padEnd(24)} ${s.doc}`);
      console.log(
        '\nModel options: see `harmonium models`. Flags > HARMONIUM_* environment > job file > defaults.',
      );
      return;
    }
    const flags = parseFlags(args);
    const configPath = flags.get('config');
    flags.delete('config');
    if (configPath === true) throw new ConfigError('config (flag --config)', 'needs a file path');
    const jobFile = configPath === undefined ? null : readJobFile(configPath);
    const config = compileJobConfig({
      flags,
      env: process.env,
      jobFile,
      ...(configPath === undefined ? {} : { jobFilePath: configPath }),
    });
    await runTraining(config);
  });

program
  .command('eval')
  .description('recompute the test block of summary.json from a checkpoint')
  .requiredOption('--checkpoint <dir>', 'checkpoint directory (e.g. runs/ae/checkpoint)')
  .option('--data <spec>', 'evaluate on this corpus instead of the one the model was trained on')
  .option('--test-data <spec>', "test set, same forms as --data (default: the run's test set)")
  .option('--test-limit <n>', 'evaluate on the first N test images', (v) => Number(v))
  .option('--backend <name>', 'compute backend', 'auto')
  .action(
    async (opts: {
      checkpoint: string;
      data?: string;
      testData?: string;
      testLimit?: number;
      backend: string;
    }) => {
      const report = await evaluateCheckpoint(opts);
      console.log(JSON.stringify(report, null, 2));
    },
  );

program
  .command('models')
  .description('list the models and their hyperparameters')
  .action(() => {
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
    await packCommand(src, opts);
  });

program.parseAsync(process.argv).catch(fail);
