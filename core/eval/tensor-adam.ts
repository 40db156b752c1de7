/**
 * Adam (Kingma & Ba 2015, betas 0.9 / 0.999, eps 1e-8) on a list of parameter tensors, for the
 * classifiers the evaluation trains itself (feature-classifier.ts, finetune.ts); models keep their
 * parameters in flat buffers and train through core/train's optimizers instead.
 */
import { tf } from '../compute/tf.js';

const BETA1 = 0.9;
const BETA2 = 0.999;
const ADAM_EPS = 1e-8;

/** A loss and its gradients with respect to `params`, in their order (what tf.valueAndGrads returns). */
export type LossAndGrads = (params: tf.Tensor[]) => {
  readonly value: tf.Tensor;
  readonly grads: tf.Tensor[];
};

/** Parameter tensors with Adam's first and second moments; it owns (and disposes) all of them. */
export class TensorAdam {
  private current: tf.Tensor[];
  private ms: tf.Tensor[];
  private vs: tf.Tensor[];
  private t = 0;

  /** Takes ownership of `initial`: they are disposed by the first step or by {@link dispose}. */
  constructor(initial: readonly tf.Tensor[]) {
    this.current = [...initial];
    this.ms = this.current.map((p) => tf.zerosLike(p));
    this.vs = this.current.map((p) => tf.zerosLike(p));
  }

  /** The parameters now; replaced (and disposed) by the next step. */
  get params(): readonly tf.Tensor[] {
    return this.current;
  }

  /** Steps taken so far. */
  get steps(): number {
    return this.t;
  }

  /**
   * One Adam step of learning rate `lr` on the gradients `lossAndGrads` gives at the current
   * parameters; everything it makes is freed but the loss, which the caller owns.
   */
  step(lr: number, lossAndGrads: LossAndGrads): tf.Tensor {
    this.t++;
    // Adam's bias corrections folded into the step size.
    const stepSize = (lr * Math.sqrt(1 - BETA2 ** this.t)) / (1 - BETA1 ** this.t);
    const [loss, ...next] = tf.tidy(() => {
      const { value, grads } = lossAndGrads([...this.current]);
      const out: tf.Tensor[] = [value];
      const newM: tf.Tensor[] = [];
      const newV: tf.Tensor[] = [];
      for (let i = 0; i < this.current.length; i++) {
        const g = grads[i]!;
        const m = tf.add(tf.mul(this.ms[i]!, BETA1), tf.mul(g, 1 - BETA1));
        const v = tf.add(tf.mul(this.vs[i]!, BETA2), tf.mul(tf.square(g), 1 - BETA2));
        out.push(tf.sub(this.current[i]!, tf.div(tf.mul(m, stepSize), tf.add(tf.sqrt(v), ADAM_EPS))));
        newM.push(m);
        newV.push(v);
      }
      return [...out, ...newM, ...newV];
    });
    this.dispose();
    const n = this.current.length;
    this.current = next.slice(0, n);
    this.ms = next.slice(n, 2 * n);
    this.vs = next.slice(2 * n);
    return loss!;
  }

  /** Frees the parameters and moments. */
  dispose(): void {
    tf.dispose([...this.current, ...this.ms, ...this.vs]);
  }
}
