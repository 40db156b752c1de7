// Original file: proto/harmonium/v1/coordinator.proto


export interface SubmitJobRequest {
  /**
   * A compiled job config as JSON (what `harmonium submit` sends). Its "out" is a directory under
   * the coordinator's --runs-dir ("" for the model's name); one that leaves it is INVALID_ARGUMENT.
   */
  'configJson'?: (string);
  /**
   * Overrides the config's "workers" when > 0.
   */
  'workers'?: (number);
}

export interface SubmitJobRequest__Output {
  /**
   * A compiled job config as JSON (what `harmonium submit` sends). Its "out" is a directory under
   * the coordinator's --runs-dir ("" for the model's name); one that leaves it is INVALID_ARGUMENT.
   */
  'configJson': (string);
  /**
   * Overrides the config's "workers" when > 0.
   */
  'workers': (number);
}
