/** Summary figures of a flat parameter buffer, for summary.json and replica comparisons. */
export interface ParamStats {
  readonly count: number;
  readonly l2: number;
  readonly sum: number;
}

export function paramStats(params: Float32Array): ParamStats {
  let sq = 0;
  let sum = 0;
  for (let i = 0; i < params.length; i++) {
    const v = params[i]!;
    sq += v * v;
    sum += v;
  }
  return { count: params.length, l2: Math.sqrt(sq), sum };
}
