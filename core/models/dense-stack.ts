/**
 * A stack of dense layers trained as an autoencoder, with its backward pass written out one layer
 * at a time (a {@link LayeredStep}): the gradients of the output layer are final, and can be on the
 * wire, while the layers below still run theirs. The chain rule per layer is the one tfjs's
 * autodiff applies to `act(x W + b)`; written by hand, it needs no tape and can stop between layers.
 */
import { copyTensorInto } from '../compute/tensor-values.js';
import { tf } from '../compute/tf.js';
import type { Activation, ReconstructionLoss } from './layers.js';
import { activate, dense, denseTransposed, reconstructionLoss, sumSquares } from './layers.js';
import type { LayeredStep, StepResult } from './model.js';

/** One layer of the stack, as where its parameters sit in the flat buffer. */
export interface StackLayer {
  readonly inputs: number;
  readonly outputs: number;
  /**
   * Offset of the weight: inputs x outputs, or outputs x inputs when `transposed` (a tied decoder
   * layer computing x W^T with an encoder's W). Layers may share a weight; biases are their own.
   */
  readonly weight: number;
  readonly transposed: boolean;
  readonly bias: number;
  /** The layer's nonlinearity; the last layer yields the output logits, so 'linear'. */
  readonly activation: Activation;
}

/** What the stack is trained to do: reconstruct its (clean) input from the output logits. */
export interface StackObjective {
  readonly loss: ReconstructionLoss;
  /** Weight of the L1 penalty on the output of layer `codeLayer` (0: none). */
  readonly sparsity: number;
  readonly codeLayer: number;
  /** Report `sse`, the mean over images of the squared error of sigmoid(logits). */
  readonly sse: boolean;
}

interface Slot {
  readonly offset: number;
  readonly size: number;
  /** The lowest layer using it: its gradient is final once that layer's backward pass ran. */
  readonly lastUse: number;
}

/** The parameter slots of `layers`; they must tile [0, length) exactly. */
function slotsOf(layers: readonly StackLayer[], length: number): Slot[] {
  const byOffset = new Map<number, Slot>();
  layers.forEach((l, k) => {
    for (const [offset, size] of [
      [l.weight, l.inputs * l.outputs],
      [l.bias, l.outputs],
    ] as const) {
      const seen = byOffset.get(offset);
      if (seen && seen.size !== size)
        throw new RangeError(`layer ${k}: parameter at ${offset} has ${size} values, elsewhere ${seen.size}`);
      byOffset.set(offset, { offset, size, lastUse: Math.min(seen?.lastUse ?? k, k) });
    }
  });
  const slots = [...byOffset.values()].sort((a, b) => a.offset - b.offset);
  let at = 0;
  for (const s of slots) {
    if (s.offset !== at) throw new RangeError(`the layers' parameters leave [${at}, ${s.offset}) unused`);
    at += s.size;
  }
  if (at !== length) throw new RangeError(`the layers' parameters hold ${at} values, the buffer ${length}`);
  return slots;
}

/** dL/dz from dL/dh for h = act(z), written with h alone (as tfjs's gradients of these ops are). */
function throughActivation(act: Activation, h: tf.Tensor2D, dh: tf.Tensor2D): tf.Tensor2D {
  switch (act) {
    case 'linear':
      return dh;
    case 'sigmoid':
      return tf.mul(dh, tf.mul(h, tf.sub(1, h)));
    case 'relu':
      return tf.mul(dh, tf.step(h));
    case 'tanh':
      return tf.mul(dh, tf.sub(1, tf.square(h)));
  }
}

/**
 * Runs the forward pass of `layers` on `input` (batchSize rows) and returns the step, whose
 * backward pass writes the descent direction of the objective (mean over images) into `out`.
 * `target` is what the output reconstructs: the clean images when `input` is corrupted.
 */
export function denseStackStep(
  layers: readonly StackLayer[],
  objective: StackObjective,
  params: Float32Array,
  input: Float32Array,
  target: Float32Array,
  batchSize: number,
  out: Float32Array = new Float32Array(params.length),
): LayeredStep {
  if (out.length !== params.length) {
    throw new RangeError(`gradient buffer holds ${out.length} values, the parameters ${params.length}`);
  }
  const slots = slotsOf(layers, params.length);
  const top = layers.length - 1;
  if (layers[top]!.activation !== 'linear') throw new RangeError('the top layer must output logits (linear)');
  const width = layers[0]!.inputs;
  let loss = 0;
  const extras: Record<string, number> = {};
  // weights[k] is layer k's weight, acts[k] its input (acts[codeLayer + 1] is the code), and
  // upstream the loss's gradient with respect to the output of the layer whose backward pass is next.
  const kept = tf.tidy(() => {
    const x = tf.tensor2d(input.subarray(0, batchSize * width), [batchSize, width], 'float32');
    const t = tf.tensor2d(target.subarray(0, batchSize * width), [batchSize, width], 'float32');
    const ws = layers.map((l) => {
      const w = params.subarray(l.weight, l.weight + l.inputs * l.outputs);
      return tf.tensor2d(w, l.transposed ? [l.outputs, l.inputs] : [l.inputs, l.outputs], 'float32');
    });
    let h = x;
    const hs: tf.Tensor2D[] = [];
    layers.forEach((l, k) => {
      hs.push(h);
      const b = tf.tensor1d(params.subarray(l.bias, l.bias + l.outputs), 'float32');
      h = activate(l.activation, l.transposed ? denseTransposed(h, ws[k]!, b) : dense(h, ws[k]!, b));
    });
    const recon = tf.mean(reconstructionLoss(objective.loss, h, t)).dataSync()[0]!;
    const s = tf.sigmoid(h);
    if (objective.sse) extras['sse'] = tf.mean(sumSquares(s, t)).dataSync()[0]!;
    loss = recon;
    if (objective.sparsity > 0) {
      const code = hs[objective.codeLayer + 1]!;
      const penalty = tf.mean(tf.mul(objective.sparsity, tf.sum(tf.abs(code), 1))).dataSync()[0]!;
      extras['reconstruction'] = recon;
      extras['penalty'] = penalty;
      loss = recon + penalty;
    }
    // Cross-entropy on logits: (s - t) / B; squared error of s: 2 (s - t) s (1 - s) / B.
    const diff = tf.sub(s, t);
    const dLogits: tf.Tensor2D =
      objective.loss === 'cross-entropy'
        ? tf.div(diff, batchSize)
        : tf.div(tf.mul(tf.mul(2, diff), tf.mul(s, tf.sub(1, s))), batchSize);
    return { ws, hs, dLogits };
  });
  const weights: (tf.Tensor2D | null)[] = kept.ws;
  const acts: (tf.Tensor2D | null)[] = kept.hs;
  let upstream: tf.Tensor2D | null = kept.dLogits;
  // What the upper use of a shared weight contributed to its gradient, until the lower use adds its own.
  const partial = new Map<number, tf.Tensor2D>();
  const releaseAll = (): void => {
    for (const t of [...weights, ...acts, upstream, ...partial.values()]) t?.dispose();
    weights.fill(null);
    acts.fill(null);
    upstream = null;
    partial.clear();
  };
  let next = top;

  const backwardLayer = (k: number): Array<readonly [number, number]> => {
    const l = layers[k]!;
    const x = acts[k]!;
    const h = k === top ? null : acts[k + 1]!;
    const w = weights[k]!;
    const dh = upstream!;
    const before = partial.get(l.weight);
    let dx: tf.Tensor2D | null = null;
    const [gW, gB] = tf.tidy((): [tf.Tensor2D, tf.Tensor] => {
      let g: tf.Tensor2D = dh;
      // d|h|/dh = sign(h), as tf.abs's gradient.
      if (h !== null && objective.sparsity > 0 && k === objective.codeLayer)
        g = tf.add<tf.Tensor2D>(g, tf.div(tf.mul(objective.sparsity, tf.sign(h)), batchSize));
      const dz = h === null ? g : throughActivation(l.activation, h, g);
      const own = l.transposed ? tf.matMul(dz, x, true, false) : tf.matMul(x, dz, true, false);
      const dw = before ? tf.add<tf.Tensor2D>(before, own) : own;
      const db = tf.sum(dz, 0);
      if (k > 0) dx = tf.keep(tf.matMul(dz, w, false, !l.transposed) as tf.Tensor2D);
      return [dw as tf.Tensor2D, db];
    });
    before?.dispose();
    partial.delete(l.weight);
    if (slots.find((s) => s.offset === l.weight)!.lastUse < k) partial.set(l.weight, gW);
    else {
      copyTensorInto(gW, out, l.weight);
      gW.dispose();
    }
    copyTensorInto(gB, out, l.bias);
    gB.dispose();
    dh.dispose();
    h?.dispose();
    w.dispose();
    if (h !== null) acts[k + 1] = null;
    weights[k] = null;
    upstream = dx;
    if (k === 0) {
      x.dispose();
      acts[0] = null;
    }
    return slots.filter((s) => s.lastUse === k).map((s) => [s.offset, s.offset + s.size] as const);
  };

  return {
    loss,
    ...(Object.keys(extras).length > 0 ? { extras } : {}),
    grads: out,
    get done() {
      return next < 0;
    },
    backward() {
      const k = next;
      if (k < 0) throw new RangeError('the backward pass has already run through every layer');
      try {
        const ready = backwardLayer(k);
        next = k - 1;
        return ready;
      } catch (err) {
        next = -1;
        releaseAll();
        throw err;
      }
    },
  };
}

/** Runs a layered step's backward pass to the end: the plain `Model.step` result. */
export function completeStep(step: LayeredStep): StepResult {
  while (!step.done) step.backward();
  return step.extras
    ? { loss: step.loss, grads: step.grads, extras: step.extras }
    : { loss: step.loss, grads: step.grads };
}
