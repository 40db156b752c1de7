/**
 * The one place that loads TensorFlow.js. The union package is used (not tfjs-core alone) because
 * it is what registers the gradient functions in Node's CommonJS build.
 */
import * as tf from '@tensorflow/tfjs';

export { tf };
