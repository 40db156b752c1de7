/**
 * Images per second of one training step (model step + optimizer update) for each model, next to
 * the same model in PyTorch CPU measured in the same run with the same batch and thread count.
 * Informative: the speed targets belong to the compute issue.
 *
 *   node --import tsx bench/models.ts [--backend wasm|cpu|auto] [--batch 100] [--steps 10]
 * Needs Debian's python3-torch for the reference column (skipped with a note when absent).
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { selectBackend, type BackendChoice } from '../core/compute/backend.js';
import { gatherBatch, limitSet } from '../core/data/corpus.js';
import { loadFashionMnist } from '../core/data/fashion-mnist.js';
import { Rng } from '../core/data/rng.js';
import type { HyperValues } from '../core/models/hyper.js';
import { findModel } from '../core/models/registry.js';
import { createOptimizer } from '../core/train/create-optimizer.js';

/** The architectures timed, identical to bench/torch-models.py. */
const WORKLOADS: readonly { kind: string; label: string; hyper: HyperValues }[] = [
  { kind: 'ae', label: '784-1000-500-250-30 sigmoid', hyper: { layers: [1000, 500, 250, 30] } },
  { kind: 'sparse-ae', label: '784-1000 relu, L1', hyper: { layers: [1000] } },
  {
    kind: 'denoising-ae',
    label: '784-500 sigmoid, masking 0.3',
    hyper: { layers: [500], 'code-activation': 'sigmoid', 'noise-rate': 0.3 },
  },
  { kind: 'contractive-ae', label: '784-500 sigmoid', hyper: { layers: [500] } },
  // The registry defaults: 28x28x1, conv 3x3 to 16 and 8 channels each + ReLU + 2x2 max-pool, 2x2
  // stride-2 transposed convs to 16 and 1, sigmoid output, squared error.
  { kind: 'conv-ae', label: '1-16-8 conv+pool, 8-16-1 deconv', hyper: {} },
  { kind: 'vae', label: '784-512-20', hyper: { layers: [512], latent: 20, activation: 'relu' } },
  { kind: 'rbm', label: '784-500 CD-1', hyper: { hidden: 500, k: 1 } },
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const backendChoice = arg('backend', 'auto') as BackendChoice;
const batch = Number(arg('batch', '100'));
const steps = Number(arg('steps', '10'));
// One compute thread on our side too (the native backend would otherwise take every core).
const backend = await selectBackend(backendChoice, { threads: 1 });
const { train } = await loadFashionMnist();
const data = limitSet(train, batch);
const x = gatherBatch(
  data,
  Array.from({ length: batch }, (_, i) => i),
);

const ours = new Map<string, number>();
/** Workloads the backend cannot run (a kernel it lacks, e.g. wasm's Conv2DBackpropFilter), with why. */
const skipped = new Map<string, string>();
for (const w of WORKLOADS) {
  const entry = findModel(w.kind);
  const model = entry.create(784, w.hyper);
  const rng = new Rng(1);
  const params = model.init(rng);
  // As the training loop does: one gradient buffer for every step.
  const grads = new Float32Array(params.length);
  const opt = createOptimizer({ optimizer: entry.training.optimizer, momentum: 0.9 }, params.length);
  const step = (): void => {
    const r = model.step(params, x, batch, rng, grads);
    opt.step(params, r.grads, entry.training.lr);
  };
  try {
    step();
    step();
  } catch (err) {
    const why = err instanceof Error ? err.message : String(err);
    skipped.set(w.kind, why);
    console.error(`${w.kind}: skipped on backend ${backend.name}: ${why}`);
    continue;
  }
  const t = performance.now();
  for (let i = 0; i < steps; i++) step();
  const ms = (performance.now() - t) / steps;
  ours.set(w.kind, ms);
  console.error(`${w.kind}: ${ms.toFixed(1)} ms/step`);
}

const here = dirname(fileURLToPath(import.meta.url));
const torch = new Map<string, number>();
const py = spawnSync('/usr/bin/python3', [join(here, 'torch-models.py'), '1', String(batch)], {
  encoding: 'utf8',
});
if (py.status === 0) {
  for (const line of py.stdout.trim().split('\n')) {
    const r = JSON.parse(line) as { model: string; step_ms: number };
    torch.set(r.model, r.step_ms);
  }
} else {
  console.error(
    `PyTorch reference skipped (apt-get install python3-torch): ${py.stderr.trim().split('\n').pop()}`,
  );
}

console.log(
  `\nbatch ${batch}, 1 thread, backend ${backend.name} vs PyTorch ${torch.size > 0 ? 'CPU' : '(absent)'}`,
);
console.log(
  `${'model'.padEnd(16)}${'architecture'.padEnd(32)}${'ours img/s'.padStart(12)}${'torch img/s'.padStart(13)}${'step ours/torch'.padStart(17)}`,
);
for (const w of WORKLOADS) {
  const o = ours.get(w.kind);
  const t = torch.get(w.kind);
  console.log(
    `${w.kind.padEnd(16)}${w.label.padEnd(32)}` +
      `${o === undefined ? '-'.padStart(12) : ((batch / o) * 1000).toFixed(0).padStart(12)}` +
      `${t === undefined ? '-'.padStart(13) : ((batch / t) * 1000).toFixed(0).padStart(13)}` +
      `${o === undefined || t === undefined ? '-'.padStart(17) : (o / t).toFixed(1).padStart(17)}`,
  );
}
for (const [kind, why] of skipped) console.log(`${kind}: not run on backend ${backend.name}: ${why}`);
