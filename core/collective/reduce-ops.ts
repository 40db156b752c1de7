/**
 * Element-wise reductions of one segment into another. A loop per op keeps the op test out of the
 * inner loop, which V8 then compiles to straight float code.
 */
import type { ReduceOp } from './process-group.js';

/**
 * acc[i] = acc[i] (op) other[i]. Every op is commutative bit for bit (IEEE addition, and max/min
 * with NaN and signed zeros as Math.max/min treat them), so which side accumulates does not change
 * the result. With `divisor` (the last reduction of an `avg`) the sum is divided by it before it is
 * rounded to float32, so the average is rounded once.
 */
export function reduceInto(
  acc: Float32Array,
  other: Float32Array,
  op: ReduceOp,
  divisor: number | null,
): void {
  const n = acc.length;
  if (op === 'max') {
    for (let i = 0; i < n; i++) acc[i] = Math.max(acc[i]!, other[i]!);
  } else if (op === 'min') {
    for (let i = 0; i < n; i++) acc[i] = Math.min(acc[i]!, other[i]!);
  } else if (divisor !== null) {
    for (let i = 0; i < n; i++) acc[i] = (acc[i]! + other[i]!) / divisor;
  } else {
    for (let i = 0; i < n; i++) acc[i] = acc[i]! + other[i]!;
  }
}
