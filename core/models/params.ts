/** Moving parameters between the flat Float32Array the trainer owns and the tensors a model computes with. */
import { copyTensorInto, tensorValues } from '../compute/tensor-values.js';
import { tf } from '../compute/tf.js';
import { flatLength, shapeSize } from './model.js';
import type { ParamSpec } from './model.js';

/** One tensor per spec, in spec order, viewing consecutive slices of `flat` (copied into tfjs). */
export function paramTensors(specs: readonly ParamSpec[], flat: Float32Array): tf.Tensor[] {
  const out: tf.Tensor[] = [];
  let offset = 0;
  for (const s of specs) {
    const size = shapeSize(s.shape);
    out.push(tf.tensor(flat.subarray(offset, offset + size), [...s.shape], 'float32'));
    offset += size;
  }
  return out;
}

/** Copies tensors laid out like `specs` into one flat buffer (the gradient all-reduce sees): `out` or a new one. */
export function flattenTensors(
  specs: readonly ParamSpec[],
  tensors: readonly tf.Tensor[],
  out: Float32Array = new Float32Array(flatLength(specs)),
): Float32Array {
  if (out.length !== flatLength(specs)) {
    throw new RangeError(`gradient buffer holds ${out.length} values, the parameters ${flatLength(specs)}`);
  }
  let offset = 0;
  specs.forEach((s, i) => {
    const t = tensors[i];
    if (!t) throw new Error(`no tensor for parameter "${s.name}"`);
    copyTensorInto(t, out, offset);
    offset += shapeSize(s.shape);
  });
  return out;
}

/** Reports a named scalar from inside a loss function, for `StepResult.extras`. */
export type Report = (name: string, value: tf.Scalar) => void;

/** The loss of a batch, its gradient laid out like the flat parameters, and the reported scalars. */
export interface LossAndGrads {
  readonly loss: number;
  readonly grads: Float32Array;
  readonly extras: Record<string, number>;
}

/**
 * Evaluates `lossFn` on the parameters in `flat` and differentiates it with `tf.valueAndGrads`.
 * Every tensor made here is disposed before returning; the scalars passed to `report` are kept
 * just long enough to be read, since the gradient machinery disposes a loss function's
 * intermediates. The gradient goes into `out` when given.
 */
export function lossAndGrads(
  specs: readonly ParamSpec[],
  flat: Float32Array,
  lossFn: (params: tf.Tensor[], report: Report) => tf.Scalar,
  out?: Float32Array,
): LossAndGrads {
  const reported = new Map<string, tf.Scalar>();
  const report: Report = (name, value) => {
    reported.get(name)?.dispose();
    reported.set(name, tf.keep(value));
  };
  try {
    let loss = 0;
    let grads: Float32Array = new Float32Array(0);
    tf.tidy(() => {
      const params = paramTensors(specs, flat);
      const r = tf.valueAndGrads((...p: tf.Tensor[]) => lossFn(p, report))(params);
      loss = r.value.dataSync()[0]!;
      grads = flattenTensors(specs, r.grads, out);
    });
    const extras: Record<string, number> = {};
    for (const [name, t] of reported) extras[name] = t.dataSync()[0]!;
    return { loss, grads, extras };
  } finally {
    for (const t of reported.values()) t.dispose();
  }
}

/** Runs `fn` on the parameter tensors and returns its result as a fresh Float32Array. */
export function withParams(
  specs: readonly ParamSpec[],
  flat: Float32Array,
  fn: (params: tf.Tensor[]) => tf.Tensor,
): Float32Array {
  return tensorValues(() => fn(paramTensors(specs, flat)));
}
