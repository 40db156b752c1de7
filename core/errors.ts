/**
 * Typed errors: every failure Harmonium reports carries a stable `code`, names what is at
 * fault (file, field, peer) in its message, and keeps the underlying `cause`.
 */
export type ErrorCode =
  | 'DATA_NOT_FOUND'
  | 'DATA_FORMAT'
  | 'DATA_CORRUPT'
  | 'DATA_CHECKSUM'
  | 'DATA_TIMEOUT'
  | 'DATA_UNAVAILABLE'
  | 'IMAGE_DECODE'
  | 'CONFIG_INVALID'
  | 'CHECKPOINT_INVALID'
  | 'BACKEND_UNAVAILABLE'
  | 'MODEL_INVALID'
  | 'IO'
  | 'COLLECTIVE_TIMEOUT'
  | 'COLLECTIVE_LINK'
  | 'COLLECTIVE_CLOSED'
  | 'COLLECTIVE_MISMATCH'
  | 'RPC_FAILED'
  | 'WORKER_LOST'
  | 'REPLICA_DIVERGED'
  | 'JOB_FAILED'
  | 'JOB_CANCELLED'
  | 'STATE_INVALID'
  | 'FENCED'
  | 'STALE_REVISION'
  | 'STORE_FAILED'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED';

export class HarmoniumError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Malformed, truncated or inconsistent input data; the message names the file and offset/entry. */
export class DataError extends HarmoniumError {}

/** A user option (flag, job-file field, environment variable) that is missing or out of range. */
export class ConfigError extends HarmoniumError {
  readonly field: string;

  constructor(field: string, message: string, options?: { cause?: unknown }) {
    super('CONFIG_INVALID', `${field}: ${message}`, options);
    this.field = field;
  }
}

/** A checkpoint that cannot be read or does not match the model it is loaded into. */
export class CheckpointError extends HarmoniumError {}

/** A compute backend that was asked for but cannot be used here. */
export class BackendError extends HarmoniumError {}

/** A cluster-level failure: a lost worker, a diverged replica, a failed or cancelled job, an RPC. */
export class ClusterError extends HarmoniumError {}

/** A caller without valid credentials (token, certificate), or one acting as someone it is not. */
export class SecurityError extends HarmoniumError {}
