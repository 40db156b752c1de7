/**
 * Adam (Kingma & Ba 2015, betas 0.9 / 0.999, eps 1e-8) on a list of parameter tensors, for the
 * classifiers the evaluation trains itself (feature-classifier.ts, finetune.ts); models keep their
 * parameters in flat buffers and train through core/train's optimizers instead. The update itself
 * is core/train's Adam on one flat buffer (the native addon's single pass where it is built): the
 * dozen tensor ops a parameter took per step cost more than the fine-tuning's small products
 * (the first command's two fine-tunes, 2,000 steps: 7.8 s before).
 */
import { tf } from '../compute/tf.js';
import { copyTensorInto } from '../compute/tensor-values.js';
import { Adam } from '../train/adam.js';

/** A loss and its gradients with respect to `params`, in their order (what tf.valueAndGrads returns). */
export type LossAndGrads = (params: tf.Tensor[]) => {
  readonly value: tf.Tensor;
  readonly grads: tf.Tensor[];
};

/** Parameter tensors with Adam's moments; it owns (and disposes) the tensors. */
export class TensorAdam {
  private current: tf.Tensor[];
  private readonly shapes: readonly number[][];
  private readonly offsets: readonly number[];
  private readonly flat: Float32Array;
  private readonly grads: Float32Array;
  private readonly adam: Adam;

  /** Takes ownership of `initial`: they are disposed by the first step or by {@link dispose}. */
  constructor(initial: readonly tf.Tensor[]) {
    this.shapes = initial.map((t) => [...t.shape]);
    const offsets: number[] = [];
    let n = 0;
    for (const t of initial) {
      offsets.push(n);
      n += t.size;
    }
    this.offsets = offsets;
    this.flat = new Float32Array(n);
    initial.forEach((t, i) => copyTensorInto(t, this.flat, offsets[i]!));
    this.grads = new Float32Array(n);
    this.adam = new Adam(n);
    this.current = [...initial];
  }

  /** The parameters now; replaced (and disposed) by the next step. */
  get params(): readonly tf.Tensor[] {
    return this.current;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.adam.steps;
  }

  /**
   * One Adam step of learning rate `lr` on the gradients `lossAndGrads` gives at the current
   * parameters; everything it makes is freed but the loss, which the caller owns.
   */
  step(lr: number, lossAndGrads: LossAndGrads): tf.Tensor {
    const loss = tf.tidy(() => {
      const { value, grads } = lossAndGrads([...this.current]);
      grads.forEach((g, i) => copyTensorInto(g, this.grads, this.offsets[i]!));
      return value;
    });
    this.adam.step(this.flat, this.grads, lr);
    tf.dispose(this.current);
    this.current = this.shapes.map((shape, i) =>
      // A copy: the next update writes the buffer in place, and a caller may still hold these.
      tf.tensor(this.flat.slice(this.offsets[i]!, this.offsets[i]! + tf.util.sizeFromShape(shape)), shape),
    );
    return loss;
  }

  /** Frees the parameters. */
  dispose(): void {
    tf.dispose(this.current);
  }
}
