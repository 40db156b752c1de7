/**
 * Decodes PNG (pngjs) and JPEG (jpeg-js) bytes to 8-bit RGBA. The format is sniffed from the
 * magic bytes, not the file name. pngjs expands grey, grey+alpha and palette images to RGBA and
 * scales 16-bit samples to 8 bits; jpeg-js expands grey JPEGs to RGBA.
 */
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

import { DataError } from '../errors.js';

/** A decoded image: `rgba` holds width * height * 4 bytes, row-major. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/**
 * Decodes a PNG or JPEG image read from `source` (named in errors). Throws DataError
 * IMAGE_DECODE naming `source` for anything else or for a damaged image; truncated JPEGs are
 * rejected rather than decoded partially.
 */
export function decodeImage(bytes: Uint8Array, source: string): RgbaImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let img: RgbaImage;
  try {
    if (startsWith(bytes, PNG_MAGIC)) {
      const png = PNG.sync.read(buf);
      img = { width: png.width, height: png.height, rgba: png.data };
    } else if (startsWith(bytes, JPEG_MAGIC)) {
      const j = jpeg.decode(buf, { useTArray: true, formatAsRGBA: true, tolerantDecoding: false });
      img = { width: j.width, height: j.height, rgba: j.data };
    } else {
      throw new Error('neither PNG nor JPEG (unrecognised magic bytes)');
    }
  } catch (err) {
    throw new DataError('IMAGE_DECODE', `${source}: cannot decode image: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (img.width <= 0 || img.height <= 0 || img.rgba.length !== img.width * img.height * 4) {
    throw new DataError(
      'IMAGE_DECODE',
      `${source}: decoder returned a malformed ${img.width}x${img.height} image`,
    );
  }
  return img;
}
