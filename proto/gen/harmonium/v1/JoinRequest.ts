// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

export interface JoinRequest {
  /**
   * Unique per worker process, chosen by the worker (host, pid and a random suffix).
   */
  'workerId'?: (string);
  /**
   * host:port of the worker's collective endpoint, as its peers must dial it.
   */
  'collectiveAddress'?: (string);
  'hostname'?: (string);
  'pid'?: (number);
  /**
   * host:port of the worker's /metrics, empty when it serves none.
   */
  'metricsAddress'?: (string);
  /**
   * Where the worker stands when it joins again (its Join stream broke, or the coordinator was
   * restarted or replaced): the job ("" when idle), generation and rank it is a member of, and the
   * steps it has committed. A coordinator that restored that job from its store takes the worker
   * back as that member, and the job goes on without restarting it.
   */
  'jobId'?: (string);
  'generation'?: (number);
  'rank'?: (number);
  'step'?: (number | string | Long);
}

export interface JoinRequest__Output {
  /**
   * Unique per worker process, chosen by the worker (host, pid and a random suffix).
   */
  'workerId': (string);
  /**
   * host:port of the worker's collective endpoint, as its peers must dial it.
   */
  'collectiveAddress': (string);
  'hostname': (string);
  'pid': (number);
  /**
   * host:port of the worker's /metrics, empty when it serves none.
   */
  'metricsAddress': (string);
  /**
   * Where the worker stands when it joins again (its Join stream broke, or the coordinator was
   * restarted or replaced): the job ("" when idle), generation and rank it is a member of, and the
   * steps it has committed. A coordinator that restored that job from its store takes the worker
   * back as that member, and the job goes on without restarting it.
   */
  'jobId': (string);
  'generation': (number);
  'rank': (number);
  'step': (number);
}
