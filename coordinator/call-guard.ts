/**
 * Who may call what on the coordinator. With a token, every call must carry it as
 * `authorization: Bearer <token>` (UNAUTHENTICATED otherwise). A call made as a worker (Join and
 * every worker call after it) must carry the key that worker first joined with: one worker, or
 * a client with the token, cannot report, fail, fetch or save state as another (PERMISSION_DENIED).
 * Health and reflection stay open: they say nothing about jobs. Refusals are logged with the
 * caller's address, once a minute per address and kind, so that a probe shows and a flood does not
 * fill the log.
 */
import { createHash } from 'node:crypto';
import { status as Status, type Metadata, type ServerErrorResponse } from '@grpc/grpc-js';
import { AUTHORIZATION_KEY, bearerMatches } from '../core/security/bearer-token.js';
import { WORKER_ID_KEY, WORKER_KEY_KEY, type CoordinatorHandlers } from '../proto/coordinator-service.js';

/** What the guard checks against. */
export interface CallPolicy {
  /** The token every call must carry; null for none. */
  readonly token: string | null;
  /** Whether a worker call as `workerId` with a key of hash `keyHash` may proceed. */
  keyMatches(workerId: string, keyHash: string): boolean;
  /** Where refusals are reported; default nowhere. */
  readonly log?: (line: string) => void;
}

/** How often one caller's refusals of one kind are logged. */
const REFUSAL_LOG_EVERY_MS = 60_000;
/** Callers remembered for that; more are forgotten oldest first. */
const MAX_LOGGED_CALLERS = 1024;

/** Calls a worker makes, and where each names the worker. */
const WORKER_CALLS: Readonly<Record<string, 'request' | 'metadata'>> = {
  Join: 'request',
  Heartbeat: 'request',
  Report: 'request',
  Fail: 'request',
  GenerationDone: 'request',
  Leave: 'request',
  FetchState: 'request',
  SaveState: 'metadata',
  Finish: 'metadata',
};

function first(md: Metadata, key: string): string {
  const v = md.get(key)[0];
  return typeof v === 'string' ? v : '';
}

/** SHA-256 (hex) of the worker key a call carries; '' when it carries none. */
export function workerKeyHash(md: Metadata): string {
  const key = first(md, WORKER_KEY_KEY);
  return key === '' ? '' : createHash('sha256').update(key).digest('hex');
}

/** A refusal: the gRPC status, with Harmonium's code in its details ("[TAG] why"). */
export type Refusal = Partial<ServerErrorResponse> & Error;

export function refusal(code: Status, tag: string, why: string): Refusal {
  return Object.assign(new Error(`[${tag}] ${why}`), { code, details: `[${tag}] ${why}` });
}

/** What the guard reads of any kind of call. */
export interface AnyCall {
  readonly metadata: Metadata;
  getPeer(): string;
  readonly request?: { workerId?: string };
  emit(event: 'error', e: Error): boolean;
}

/** Why `call` of method `name` may not proceed, or null. */
function check(name: string, call: AnyCall, policy: CallPolicy): Refusal | null {
  if (policy.token !== null && !bearerMatches(first(call.metadata, AUTHORIZATION_KEY), policy.token)) {
    return refusal(
      Status.UNAUTHENTICATED,
      'UNAUTHENTICATED',
      `${name} needs the cluster token (authorization: Bearer ...)`,
    );
  }
  const where = WORKER_CALLS[name];
  if (where === undefined) return null;
  const workerId = where === 'request' ? (call.request?.workerId ?? '') : first(call.metadata, WORKER_ID_KEY);
  const keyHash = workerKeyHash(call.metadata);
  if (policy.token !== null && keyHash === '') {
    return refusal(
      Status.UNAUTHENTICATED,
      'UNAUTHENTICATED',
      `${name} as worker ${workerId} carries no worker key`,
    );
  }
  if (!policy.keyMatches(workerId, keyHash)) {
    return refusal(
      Status.PERMISSION_DENIED,
      'PERMISSION_DENIED',
      `${name}: worker ${workerId} joined from another process (its key does not match)`,
    );
  }
  return null;
}

/** `handlers`, each refusing a call that `policy` does not admit before it runs. */
export function guarded(handlers: CoordinatorHandlers, policy: CallPolicy): CoordinatorHandlers {
  const lastLogged = new Map<string, number>();
  const report = (call: AnyCall, refused: Error): void => {
    if (!policy.log) return;
    const peer = call.getPeer();
    const kind = `${peer} ${refused.message.slice(0, refused.message.indexOf(']') + 1)}`;
    const now = Date.now();
    if (now - (lastLogged.get(kind) ?? -Infinity) < REFUSAL_LOG_EVERY_MS) return;
    lastLogged.delete(kind);
    lastLogged.set(kind, now);
    if (lastLogged.size > MAX_LOGGED_CALLERS) lastLogged.delete(lastLogged.keys().next().value!);
    policy.log(`coordinator: refused a call from ${peer}: ${refused.message}`);
  };
  return refusing(handlers, (name, call) => {
    const refused = check(name, call, policy);
    if (refused !== null) report(call, refused);
    return refused;
  });
}

/**
 * `handlers`, each answering with the refusal `refuse` gives for a call (before the handler
 * runs), or running as it is when that is null.
 */
export function refusing(
  handlers: CoordinatorHandlers,
  refuse: (name: string, call: AnyCall) => Refusal | null,
): CoordinatorHandlers {
  const out: Record<string, unknown> = {};
  for (const [name, handler] of Object.entries(handlers)) {
    out[name] = (call: AnyCall, callback?: (e: Partial<ServerErrorResponse>) => void) => {
      const refused = refuse(name, call);
      if (refused === null) return (handler as (c: unknown, cb: unknown) => void)(call, callback);
      // A server stream ends with the status of an 'error' event (destroy would send none).
      if (callback) callback(refused);
      else call.emit('error', refused);
    };
  }
  return out as unknown as CoordinatorHandlers;
}
