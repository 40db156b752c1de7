// Original file: proto/harmonium/v1/coordinator.proto


/**
 * A picture of a run: a plain file name ending in .png (no path) and its bytes.
 */
export interface Picture {
  'name'?: (string);
  'png'?: (Buffer | Uint8Array | string);
}

/**
 * A picture of a run: a plain file name ending in .png (no path) and its bytes.
 */
export interface Picture__Output {
  'name': (string);
  'png': (Buffer);
}
