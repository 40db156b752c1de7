import { HarmoniumError } from '../errors.js';

export type CollectiveErrorCode =
  'COLLECTIVE_TIMEOUT' | 'COLLECTIVE_LINK' | 'COLLECTIVE_CLOSED' | 'COLLECTIVE_MISMATCH';

/**
 * A collective call that did not complete. `peer` is the rank at fault where one is known (the
 * neighbour whose link broke, or that did not send in time). `rebuild` says the group is unusable
 * and must be re-formed (a later generation); every code but a local argument error sets it.
 */
export class CollectiveError extends HarmoniumError {
  readonly peer: number | null;
  readonly rebuild: boolean;

  constructor(
    code: CollectiveErrorCode,
    message: string,
    options: { peer?: number | null; rebuild?: boolean; cause?: unknown } = {},
  ) {
    super(code, message, options.cause === undefined ? undefined : { cause: options.cause });
    this.peer = options.peer ?? null;
    this.rebuild = options.rebuild ?? code !== 'COLLECTIVE_MISMATCH';
  }
}
