/**
 * Learning-rate schedules. `step` counts updates already taken (0 for the first update) and
 * `totalSteps` is the number of updates in the whole run, so a resumed run gets the same rates.
 */
import { ConfigError } from '../errors.js';

/** The learning rate for update `step` of `totalSteps`. */
export type LrSchedule = (step: number, totalSteps: number) => number;

/** Always `lr`. */
export function constantLr(lr: number): LrSchedule {
  return () => lr;
}

/** `lr * factor^k` where k is the number of boundaries (`everySteps`, 2*`everySteps`, ...) passed. */
export function stepDecayLr(lr: number, factor: number, everySteps: number): LrSchedule {
  return (step) => lr * factor ** Math.floor(step / everySteps);
}

/** `lr * factor^k` where k is the number of `milestones` (fractions of the run, ascending) passed. */
export function milestoneDecayLr(lr: number, factor: number, milestones: readonly number[]): LrSchedule {
  return (step, totalSteps) => {
    let k = 0;
    for (const f of milestones) if (step >= f * totalSteps) k++;
    return lr * factor ** k;
  };
}

/** Half a cosine from `lr` at step 0 down to `minLr` at `totalSteps` (and after). */
export function cosineLr(lr: number, minLr: number): LrSchedule {
  return (step, totalSteps) => {
    const progress = totalSteps > 0 ? Math.min(step / totalSteps, 1) : 1;
    return minLr + (lr - minLr) * 0.5 * (1 + Math.cos(Math.PI * progress));
  };
}

/**
 * Linear warm-up in front of any schedule: update `s < warmupSteps` gets `(s+1)/warmupSteps` of the
 * inner schedule's first rate (so the first update is not wasted at 0), and the inner schedule then
 * runs over the remaining `totalSteps - warmupSteps` updates as if they were the whole run.
 */
export function withWarmup(inner: LrSchedule, warmupSteps: number): LrSchedule {
  if (warmupSteps <= 0) return inner;
  return (step, totalSteps) => {
    const rest = Math.max(totalSteps - warmupSteps, 0);
    if (step < warmupSteps) return (inner(0, rest) * (step + 1)) / warmupSteps;
    return inner(step - warmupSteps, rest);
  };
}

/** A schedule as a job or the trainer describes it. */
export interface LrScheduleConfig {
  readonly kind: 'constant' | 'step' | 'cosine';
  /** Peak learning rate, > 0. */
  readonly lr: number;
  /** Linear warm-up updates in front of the schedule; default 0. */
  readonly warmupSteps?: number;
  /** step: multiplier at each boundary, in (0, 1]; default 0.1. */
  readonly factor?: number;
  /** step: a boundary every N updates. At most one of everySteps, everyEpochs, milestones. */
  readonly everySteps?: number;
  /** step: a boundary every N epochs (needs `stepsPerEpoch`). */
  readonly everyEpochs?: number;
  /** step: boundaries at these fractions of the run, in (0, 1), ascending; default [0.5, 0.75]. */
  readonly milestones?: readonly number[];
  /** cosine: the floor, in [0, lr]; default 1% of lr. */
  readonly minLr?: number;
}

/** Context a schedule may need. */
export interface LrScheduleContext {
  /** Updates per epoch; needed by `everyEpochs`. */
  readonly stepsPerEpoch?: number;
  /** Prefix for the field named in a ConfigError; default "lrSchedule". */
  readonly field?: string;
}

const KINDS = ['constant', 'step', 'cosine'] as const;
const KEYS: Record<(typeof KINDS)[number], readonly string[]> = {
  constant: ['kind', 'lr', 'warmupSteps'],
  step: ['kind', 'lr', 'warmupSteps', 'factor', 'everySteps', 'everyEpochs', 'milestones'],
  cosine: ['kind', 'lr', 'warmupSteps', 'minLr'],
};

/**
 * Validates a schedule description (e.g. parsed from JSON) and builds it. Every problem is a
 * ConfigError naming the field, e.g. `lrSchedule.factor: must be in (0, 1], got 2`.
 */
export function parseLrSchedule(raw: unknown, context: LrScheduleContext = {}): LrSchedule {
  const prefix = context.field ?? 'lrSchedule';
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ConfigError(prefix, 'must be an object like {"kind": "cosine", "lr": 0.001}');
  }
  const obj = raw as Record<string, unknown>;
  const kind = obj['kind'];
  if (typeof kind !== 'string' || !(KINDS as readonly string[]).includes(kind)) {
    throw new ConfigError(
      `${prefix}.kind`,
      `must be one of ${KINDS.join(', ')}, got ${JSON.stringify(kind)}`,
    );
  }
  const k = kind as (typeof KINDS)[number];
  for (const key of Object.keys(obj)) {
    if (!KEYS[k].includes(key)) {
      throw new ConfigError(`${prefix}.${key}`, `unknown for kind "${k}"; known: ${KEYS[k].join(', ')}`);
    }
  }

  const num = (key: string, ok: (v: number) => boolean, want: string): number | undefined => {
    const v = obj[key];
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isFinite(v) || !ok(v)) {
      throw new ConfigError(`${prefix}.${key}`, `must be ${want}, got ${JSON.stringify(v)}`);
    }
    return v;
  };
  const isCount = (v: number): boolean => Number.isInteger(v) && v >= 1;

  const lr = num('lr', (v) => v > 0, 'a number > 0');
  if (lr === undefined) throw new ConfigError(`${prefix}.lr`, 'required');
  const warmupSteps = num('warmupSteps', (v) => Number.isInteger(v) && v >= 0, 'an integer >= 0') ?? 0;

  let inner: LrSchedule;
  switch (k) {
    case 'constant':
      inner = constantLr(lr);
      break;
    case 'cosine': {
      const minLr = num('minLr', (v) => v >= 0 && v <= lr, `in [0, lr = ${lr}]`) ?? lr * 0.01;
      inner = cosineLr(lr, minLr);
      break;
    }
    case 'step': {
      const factor = num('factor', (v) => v > 0 && v <= 1, 'in (0, 1]') ?? 0.1;
      const everySteps = num('everySteps', isCount, 'an integer >= 1');
      const everyEpochs = num('everyEpochs', isCount, 'an integer >= 1');
      const given = ['everySteps', 'everyEpochs', 'milestones'].filter((key) => obj[key] !== undefined);
      if (given.length > 1) {
        throw new ConfigError(`${prefix}.${given[1]}`, `give only one of ${given.join(', ')}`);
      }
      if (everySteps !== undefined) {
        inner = stepDecayLr(lr, factor, everySteps);
      } else if (everyEpochs !== undefined) {
        const spe = context.stepsPerEpoch;
        if (spe === undefined || !isCount(spe)) {
          throw new ConfigError(
            `${prefix}.everyEpochs`,
            'needs the number of steps per epoch, which is unknown here',
          );
        }
        inner = stepDecayLr(lr, factor, everyEpochs * spe);
      } else {
        inner = milestoneDecayLr(lr, factor, parseMilestones(obj['milestones'], `${prefix}.milestones`));
      }
      break;
    }
  }
  return withWarmup(inner, warmupSteps);
}

function parseMilestones(v: unknown, field: string): readonly number[] {
  if (v === undefined) return [0.5, 0.75];
  if (!Array.isArray(v) || v.length === 0)
    throw new ConfigError(field, 'must be a non-empty array of fractions');
  let prev = 0;
  for (const f of v as unknown[]) {
    if (typeof f !== 'number' || !(f > prev && f < 1)) {
      throw new ConfigError(field, `must be ascending fractions in (0, 1), got ${JSON.stringify(v)}`);
    }
    prev = f;
  }
  return v as number[];
}
