/**
 * Who trains the next generation of a job, and from what state: the coordinator's decision when a
 * generation has ended (a member lost, drained for a join or a leave, or the first rendezvous). A
 * pure function of what the members reported, so it is tested without processes.
 *
 * Rules:
 * - survivors keep their order (so the oldest member stays rank 0), idle workers join after them,
 *   up to the job's most workers; fewer than its fewest is no generation at all;
 * - members that hold the job's state continue from the most steps any of them committed ("peers");
 *   the first survivor at that step is the source that sends its state to every member that is
 *   behind it or new (a step another survivor committed before the group broke is thus kept, and a
 *   step no survivor committed is redone);
 * - without a member that holds state, the job starts from its last checkpoint, or from scratch.
 */

/** What one member said when its generation ended. */
export interface SurvivorReport {
  readonly workerId: string;
  /** Steps it committed; -1 when it holds none of the job's state. */
  readonly step: number;
  /** It had computed a step it did not commit. */
  readonly inProgress: boolean;
}

/** What the plan needs to know. */
export interface PlanInput {
  /** The members that answered, in their old rank order. */
  readonly survivors: readonly SurvivorReport[];
  /** Idle workers that may join, in join order. */
  readonly idle: readonly string[];
  readonly maxWorkers: number;
  readonly minWorkers: number;
  /** The step of the job's last checkpoint, null when it has none. */
  readonly checkpointStep: number | null;
}

/** The next generation. */
export interface GenerationPlan {
  /** Worker ids by rank. */
  readonly members: readonly string[];
  readonly start: 'fresh' | 'checkpoint' | 'peers';
  /** The step the generation starts from. */
  readonly startStep: number;
  /** The rank that sends its state to the others; -1 when none needs it. */
  readonly sourceRank: number;
  /** Steps some survivor computed that nobody committed, now redone. */
  readonly stepsRedone: number;
}

/** Plans the next generation, or says how many more workers it needs (`short`). */
export function planGeneration(input: PlanInput): GenerationPlan | { readonly short: number } {
  const survivors = input.survivors.slice(0, input.maxWorkers);
  const joiners = input.idle.slice(0, Math.max(0, input.maxWorkers - survivors.length));
  const members = [...survivors.map((s) => s.workerId), ...joiners];
  if (members.length < input.minWorkers) return { short: input.minWorkers - members.length };
  const newest = Math.max(-1, ...survivors.map((s) => s.step));
  if (newest >= 0) {
    const source = survivors.findIndex((s) => s.step === newest);
    const behind = survivors.some((s) => s.step !== newest) || joiners.length > 0;
    const redone = survivors.some((s) => s.step === newest && s.inProgress) ? 1 : 0;
    return {
      members,
      start: 'peers',
      startStep: newest,
      sourceRank: behind ? source : -1,
      stepsRedone: redone,
    };
  }
  if (input.checkpointStep !== null) {
    return { members, start: 'checkpoint', startStep: input.checkpointStep, sourceRank: -1, stepsRedone: 0 };
  }
  return { members, start: 'fresh', startStep: 0, sourceRank: -1, stepsRedone: 0 };
}
