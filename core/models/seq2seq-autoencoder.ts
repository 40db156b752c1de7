/**
 * The sequence-to-sequence autoencoder with LSTM units (`seq2seq-ae`). An image of side x side x
 * channels values (NHWC, row-major, as the corpora store them) is read as a sequence of `side`
 * rows of side * channels values each (28 steps of 28 pixels for Fashion-MNIST):
 *
 *   encoder:  (h_t, c_t) = LSTM_enc(row_t, h_{t-1}, c_{t-1}), h_0 = c_0 = 0, t = 1..side
 *   code:     z = h_side W_code + b_code                                    (linear)
 *   decoder:  h'_0 = tanh(z W_h0 + b_h0), c'_0 = tanh(z W_c0 + b_c0)
 *             (h'_t, c'_t) = LSTM_dec(z, h'_{t-1}, c'_{t-1})               t = 1..side
 *   output:   row'_t = sigmoid(h'_t W_out + b_out)
 *
 * No teacher forcing: the decoder's input at every step is the code itself (not the previous
 * true or reconstructed row), so the reconstruction depends on the image only through z, and
 * `decode` runs from a code alone exactly as training does.
 *
 * Each LSTM cell is one fused product of [x, h] with a [in + hidden, 4 * hidden] weight plus a
 * bias, split into the gates i, f, g, o (in that order along the columns):
 *
 *   i = sigmoid(.), f = sigmoid(.), g = tanh(.), o = sigmoid(.),  c' = f c + i g,  h' = o tanh(c')
 *
 * The recurrence runs in the transposed layout (units x batch): the gates are w^T [x; h] + b, so
 * splitting them, stacking [x; h] and reading each step's rows of x^T are all contiguous row
 * blocks (tfjs's cpu kernels, which the native backend keeps for slicing, split columns element by
 * element: 25 ms per step at batch 100). The loop is unrolled in tfjs ops inside the loss, so
 * tf.valueAndGrads backpropagates through time.
 */
import { tf } from '../compute/tf.js';
import type { Rng } from '../data/rng.js';
import type { Noise } from '../data/sample-noise.js';
import { ConfigError } from '../errors.js';
import type { HyperValues } from './hyper.js';
import { HyperReader } from './hyper-values.js';
import { dense, glorotInit, matrix, reconstructionLoss, type ReconstructionLoss } from './layers.js';
import { SEQ2SEQ_AE_HYPERS } from './model-catalogue.js';
import { paramOffsets } from './model.js';
import type { Model, ParamSpec, StepResult } from './model.js';
import { lossAndGrads, paramTensors, withParams } from './params.js';

/** Everything that defines a sequence-to-sequence autoencoder, after hyperparameters have been read. */
export interface Seq2SeqAutoencoderConfig {
  readonly inputSize: number;
  /** Image channels; the image is side x side x channels with side inferred from inputSize. */
  readonly channels: number;
  /** LSTM units of the encoder and of the decoder. */
  readonly hidden: number;
  /** Size of the (linear) code. */
  readonly code: number;
  /**
   * Per image, summed over pixels, then averaged over the batch: `cross-entropy` the Bernoulli
   * negative log-likelihood computed on the logits z, `mse` sum_i (sigmoid(z)_i - x_i)^2.
   */
  readonly loss: ReconstructionLoss;
  /** Hyperparameters as given, for summaries and checkpoints. */
  readonly hyper: Readonly<Record<string, unknown>>;
}

/** The side of the square image behind `inputSize` values of `channels` channels; a ConfigError otherwise. */
export function sequenceSide(inputSize: number, channels: number): number {
  const pixels = inputSize / channels;
  const side = Math.round(Math.sqrt(pixels));
  if (!Number.isInteger(pixels) || side * side !== pixels) {
    throw new ConfigError(
      'channels',
      `seq2seq-ae reads square images of side x side x channels values as side rows: ${inputSize} values ` +
        `per image is not ${channels} x side^2 for any integer side (give --channels for colour images)`,
    );
  }
  return side;
}

/** Parameter indices in paramSpecs order. */
const ENC_W = 0;
const ENC_B = 1;
const CODE_W = 2;
const CODE_B = 3;
const H0_W = 4;
const H0_B = 5;
const C0_W = 6;
const C0_B = 7;
const DEC_W = 8;
const DEC_B = 9;
const OUT_W = 10;
const OUT_B = 11;

/**
 * One LSTM step in the transposed (units x batch) layout: from the input xT (in x batch) and the
 * state hT, cT (hidden x batch), gates z = w^T [x; h] + b (4 hidden x batch, `w` [in + hidden,
 * 4 hidden], `b` a 4 hidden x 1 column), i, f, g, o the consecutive row blocks of z.
 */
function lstmStep(
  w: tf.Tensor2D,
  b: tf.Tensor2D,
  xT: tf.Tensor2D,
  hT: tf.Tensor2D,
  cT: tf.Tensor2D,
): { hT: tf.Tensor2D; cT: tf.Tensor2D } {
  const z = tf.add(tf.matMul(w, tf.concat([xT, hT], 0), true, false), b);
  const [i, f, g, o] = tf.split(z, 4, 0) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
  const c: tf.Tensor2D = tf.add(tf.mul(tf.sigmoid(f), cT), tf.mul(tf.sigmoid(i), tf.tanh(g)));
  return { hT: tf.mul(tf.sigmoid(o), tf.tanh(c)), cT: c };
}

/** x^T W + b as a column block: `w` (in x out), `xT` (in x batch), `b` (out); out x batch. */
function denseT(w: tf.Tensor2D, xT: tf.Tensor2D, b: tf.Tensor1D): tf.Tensor2D {
  return tf.add(tf.matMul(w, xT, true, false), tf.reshape(b, [-1, 1]));
}

/** A batch of `rows` x `cols` values as its transpose, a cols x rows tensor (transposed here, not by a kernel). */
function transposedMatrix(values: Float32Array, rows: number, cols: number): tf.Tensor2D {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  }
  return tf.tensor2d(out, [cols, rows], 'float32');
}

/**
 * An LSTM encoder-decoder whose flat parameters are enc.w [row + hidden, 4 hidden], enc.b,
 * code.w [hidden, code], code.b, h0.w [code, hidden], h0.b, c0.w [code, hidden], c0.b,
 * dec.w [code + hidden, 4 hidden], dec.b, out.w [hidden, row], out.b [row].
 */
export class Seq2SeqAutoencoder implements Model {
  readonly kind = 'seq2seq-ae';
  readonly inputSize: number;
  readonly codeSize: number;
  readonly paramSpecs: readonly ParamSpec[];
  readonly hyper: Readonly<Record<string, unknown>>;
  /** Image side: the number of steps. */
  readonly side: number;
  /** Values per row (side * channels): the input and output size of one step. */
  readonly rowSize: number;

  constructor(private readonly config: Seq2SeqAutoencoderConfig) {
    const { inputSize, channels, hidden, code } = config;
    this.side = sequenceSide(inputSize, channels);
    this.rowSize = this.side * channels;
    this.inputSize = inputSize;
    this.codeSize = code;
    this.hyper = config.hyper;
    const row = this.rowSize;
    this.paramSpecs = [
      { name: 'enc.w', shape: [row + hidden, 4 * hidden] },
      { name: 'enc.b', shape: [4 * hidden] },
      { name: 'code.w', shape: [hidden, code] },
      { name: 'code.b', shape: [code] },
      { name: 'h0.w', shape: [code, hidden] },
      { name: 'h0.b', shape: [hidden] },
      { name: 'c0.w', shape: [code, hidden] },
      { name: 'c0.b', shape: [hidden] },
      { name: 'dec.w', shape: [code + hidden, 4 * hidden] },
      { name: 'dec.b', shape: [4 * hidden] },
      { name: 'out.w', shape: [hidden, row] },
      { name: 'out.b', shape: [row] },
    ];
  }

  /**
   * Glorot/Xavier uniform for every weight matrix (the LSTM's fused [in + hidden, 4 hidden] one
   * with those fans, as Keras's LSTM initialises its input kernel); biases zero except the forget
   * gates' (columns hidden..2 hidden of enc.b and dec.b), which start at 1 so that early training
   * keeps the cell state (Jozefowicz et al. 2015).
   */
  init(rng: Rng): Float32Array {
    const flat = glorotInit(this.paramSpecs, rng);
    const offsets = paramOffsets(this.paramSpecs);
    const { hidden } = this.config;
    for (const name of ['enc.b', 'dec.b']) {
      const { offset } = offsets.get(name)!;
      flat.fill(1, offset + hidden, offset + 2 * hidden);
    }
    return flat;
  }

  /** The codes (batch x code) of the first `batchSize` images of `batch`. */
  private encodeT(p: readonly tf.Tensor[], batch: Float32Array, batchSize: number): tf.Tensor2D {
    const { hidden } = this.config;
    const n = batchSize;
    // x^T (inputSize x batch) holds row t of every image in rows t * rowSize ... (t + 1) * rowSize - 1.
    const xT = transposedMatrix(batch, n, this.inputSize);
    const rowsT = tf.unstack(tf.reshape(xT, [this.side, this.rowSize, n])) as tf.Tensor2D[];
    const w = p[ENC_W] as tf.Tensor2D;
    const b = tf.reshape(p[ENC_B]!, [-1, 1]) as tf.Tensor2D;
    let hT: tf.Tensor2D = tf.zeros([hidden, n]);
    let cT: tf.Tensor2D = tf.zeros([hidden, n]);
    for (const xT of rowsT) ({ hT, cT } = lstmStep(w, b, xT, hT, cT));
    return dense(tf.transpose(hT), p[CODE_W] as tf.Tensor2D, p[CODE_B] as tf.Tensor1D);
  }

  /** Output logits (batch x inputSize, pre-sigmoid, NHWC order) from codes (batch x code). */
  private decodeLogits(p: readonly tf.Tensor[], z: tf.Tensor2D): tf.Tensor2D {
    const n = z.shape[0];
    const zT = tf.transpose(z);
    const w = p[DEC_W] as tf.Tensor2D;
    const b = tf.reshape(p[DEC_B]!, [-1, 1]) as tf.Tensor2D;
    const outW = p[OUT_W] as tf.Tensor2D;
    const outB = p[OUT_B] as tf.Tensor1D;
    let hT = tf.tanh(denseT(p[H0_W] as tf.Tensor2D, zT, p[H0_B] as tf.Tensor1D));
    let cT = tf.tanh(denseT(p[C0_W] as tf.Tensor2D, zT, p[C0_B] as tf.Tensor1D));
    const rowsT: tf.Tensor2D[] = [];
    for (let t = 0; t < this.side; t++) {
      // The decoder's input at every step is the code.
      ({ hT, cT } = lstmStep(w, b, zT, hT, cT));
      rowsT.push(denseT(outW, hT, outB));
    }
    // side x rowSize x batch -> inputSize x batch -> batch x inputSize.
    return tf.transpose(tf.reshape(tf.stack(rowsT), [this.inputSize, n]));
  }

  step(
    params: Float32Array,
    batch: Float32Array,
    batchSize: number,
    _noise: Noise,
    out?: Float32Array,
  ): StepResult {
    return lossAndGrads(
      this.paramSpecs,
      params,
      (p) => {
        const x = matrix(batch, batchSize, this.inputSize);
        const logits = this.decodeLogits(p, this.encodeT(p, batch, batchSize));
        return tf.mean(reconstructionLoss(this.config.loss, logits, x)) as tf.Scalar;
      },
      out,
    );
  }

  encode(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) => this.encodeT(p, batch, batchSize));
  }

  decode(params: Float32Array, codes: Float32Array, count: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, matrix(codes, count, this.codeSize))),
    );
  }

  reconstruct(params: Float32Array, batch: Float32Array, batchSize: number): Float32Array {
    return withParams(this.paramSpecs, params, (p) =>
      tf.sigmoid(this.decodeLogits(p, this.encodeT(p, batch, batchSize))),
    );
  }

  /** Sum over the batch of the per-image reconstruction loss (the report computes the squared error). */
  evaluate(params: Float32Array, batch: Float32Array, batchSize: number): Record<string, number> {
    return tf.tidy(() => {
      const p = paramTensors(this.paramSpecs, params);
      const x = matrix(batch, batchSize, this.inputSize);
      const logits = this.decodeLogits(p, this.encodeT(p, batch, batchSize));
      return { reconstruction_loss: tf.sum(reconstructionLoss(this.config.loss, logits, x)).dataSync()[0]! };
    });
  }
}

const LOSSES: readonly ReconstructionLoss[] = ['cross-entropy', 'mse'];

/** Builds `seq2seq-ae` from (validated) hyperparameters; missing ones take their defaults. */
export function createSeq2SeqAutoencoder(inputSize: number, values: HyperValues): Seq2SeqAutoencoder {
  const h = new HyperReader(SEQ2SEQ_AE_HYPERS, values);
  return new Seq2SeqAutoencoder({
    inputSize,
    channels: h.int('channels'),
    hidden: h.int('hidden'),
    code: h.int('code'),
    loss: h.choice('loss', LOSSES),
    hyper: h.resolved(),
  });
}
