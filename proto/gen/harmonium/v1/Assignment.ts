// Original file: proto/harmonium/v1/coordinator.proto

import type { Long } from '@grpc/proto-loader';

/**
 * What one worker does in one generation of a job.
 */
export interface Assignment {
  'jobId'?: (string);
  'generation'?: (number);
  'rank'?: (number);
  'worldSize'?: (number);
  /**
   * Collective address of every rank; index = rank.
   */
  'peers'?: (string)[];
  /**
   * The compiled job configuration (JSON of the training options).
   */
  'configJson'?: (string);
  /**
   * True when the job continues from the coordinator's last checkpoint (FetchState).
   */
  'resume'?: (boolean);
  'heartbeatIntervalMs'?: (number);
  /**
   * Deadline of one collective call once training runs.
   */
  'collectiveTimeoutMs'?: (number);
  /**
   * Steps between parameter digest comparisons; 0 disables them.
   */
  'digestEvery'?: (number);
  /**
   * Port for the worker's /metrics, 0 for none.
   */
  'metricsPort'?: (number);
  /**
   * Where the state of this generation comes from: "fresh" (every rank initialises from the seed),
   * "checkpoint" (every rank fetches the coordinator's last checkpoint), "peers" (the members that
   * hold the job's state keep it; a member that does not receives it from source_rank).
   */
  'start'?: (string);
  /**
   * The step the generation starts from ("peers": the most steps any member committed).
   */
  'startStep'?: (number | string | Long);
  /**
   * The rank that sends its state to the others, -1 when every member already holds it.
   */
  'sourceRank'?: (number);
  /**
   * Committed steps whose records the coordinator holds; the new rank 0 sends those after them.
   */
  'recordedStep'?: (number | string | Long);
  /**
   * A secret of this generation alone, the same for every member: each shows it in its link hellos
   * (collective.proto), and an endpoint takes a link only from a hello that carries it.
   */
  'linkSecret'?: (string);
}

/**
 * What one worker does in one generation of a job.
 */
export interface Assignment__Output {
  'jobId': (string);
  'generation': (number);
  'rank': (number);
  'worldSize': (number);
  /**
   * Collective address of every rank; index = rank.
   */
  'peers': (string)[];
  /**
   * The compiled job configuration (JSON of the training options).
   */
  'configJson': (string);
  /**
   * True when the job continues from the coordinator's last checkpoint (FetchState).
   */
  'resume': (boolean);
  'heartbeatIntervalMs': (number);
  /**
   * Deadline of one collective call once training runs.
   */
  'collectiveTimeoutMs': (number);
  /**
   * Steps between parameter digest comparisons; 0 disables them.
   */
  'digestEvery': (number);
  /**
   * Port for the worker's /metrics, 0 for none.
   */
  'metricsPort': (number);
  /**
   * Where the state of this generation comes from: "fresh" (every rank initialises from the seed),
   * "checkpoint" (every rank fetches the coordinator's last checkpoint), "peers" (the members that
   * hold the job's state keep it; a member that does not receives it from source_rank).
   */
  'start': (string);
  /**
   * The step the generation starts from ("peers": the most steps any member committed).
   */
  'startStep': (number);
  /**
   * The rank that sends its state to the others, -1 when every member already holds it.
   */
  'sourceRank': (number);
  /**
   * Committed steps whose records the coordinator holds; the new rank 0 sends those after them.
   */
  'recordedStep': (number);
  /**
   * A secret of this generation alone, the same for every member: each shows it in its link hellos
   * (collective.proto), and an endpoint takes a link only from a hello that carries it.
   */
  'linkSecret': (string);
}
