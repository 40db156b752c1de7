/**
 * Decodes PNG (pngjs) and JPEG (jpeg-js) bytes to 8-bit RGBA. The format is sniffed from the
 * magic bytes, not the file name. pngjs expands grey, grey+alpha and palette images to RGBA and
 * scales 16-bit samples to 8 bits; jpeg-js expands grey JPEGs to RGBA. Both decoders allocate from
 * the dimensions an image declares, so those are checked against a pixel limit first, and a PNG
 * must carry enough compressed data for what it declares (no decompression bombs).
 */
import { inflateSync } from 'node:zlib';

import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

import { DataError } from '../errors.js';

/** A decoded image: `rgba` holds width * height * 4 bytes, row-major. */
export interface RgbaImage {
  readonly width: number;
  readonly height: number;
  readonly rgba: Uint8Array;
}

/**
 * The most pixels an image may declare: 2^25 (e.g. 8192 x 4096, above the 12 to 24 MP of most
 * cameras); its RGBA takes 128 MiB.
 */
export const MAX_IMAGE_PIXELS = 2 ** 25;

/**
 * jpeg-js's memory budget per pixel, which it counts its allocations against: up to 4 components
 * of 32-bit coefficients (16 bytes), a line buffer byte per component (4) and the RGBA output (4).
 */
const JPEG_BYTES_PER_PIXEL = 24;

/** Deflate cannot expand data more than 1032 times (zlib's technical notes). */
const MAX_DEFLATE_RATIO = 1032;

const PNG_MAGIC = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
const JPEG_MAGIC = [0xff, 0xd8, 0xff];

/** Samples per pixel by PNG colour type: grey, RGB, palette, grey + alpha, RGBA. */
const PNG_CHANNELS: Readonly<Record<number, number>> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

/** Adam7 passes: x start, y start, x step, y step. */
const ADAM7 = [
  [0, 0, 8, 8],
  [4, 0, 8, 8],
  [0, 4, 4, 8],
  [2, 0, 4, 4],
  [0, 2, 2, 4],
  [1, 0, 2, 2],
  [0, 1, 1, 2],
] as const;

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return bytes.length >= magic.length && magic.every((b, i) => bytes[i] === b);
}

/** Bytes of filtered scanlines a PNG of these dimensions inflates to (a filter byte per row). */
function pngRawBytes(width: number, height: number, bitsPerPixel: number, interlaced: boolean): number {
  const rows = (w: number, h: number): number => (w === 0 ? 0 : h * (Math.ceil((w * bitsPerPixel) / 8) + 1));
  if (!interlaced) return rows(width, height);
  let total = 0;
  for (const [x0, y0, dx, dy] of ADAM7) {
    total += rows(Math.ceil(Math.max(0, width - x0) / dx), Math.ceil(Math.max(0, height - y0) / dy));
  }
  return total;
}

/**
 * Checks a PNG's IHDR before pngjs allocates from it: its pixel count against `maxPixels`, and its
 * IDAT data against the size it declares. pngjs inflates a non-interlaced image only up to that
 * size but an interlaced one without any bound, so an interlaced image is first inflated here,
 * bounded.
 */
function checkPng(buf: Buffer, maxPixels: number): void {
  if (buf.length < 33 || buf.readUInt32BE(8) !== 13 || buf.toString('latin1', 12, 16) !== 'IHDR') {
    throw new Error('PNG does not start with a 13-byte IHDR chunk');
  }
  const width = buf.readUInt32BE(16);
  const height = buf.readUInt32BE(20);
  if (width === 0 || height === 0 || width * height > maxPixels) {
    throw new Error(`PNG declares ${width}x${height} pixels, allowed are 1 to ${maxPixels}`);
  }
  const depth = buf[24]!;
  const channels = PNG_CHANNELS[buf[25]!];
  if (channels === undefined) throw new Error(`unsupported PNG colour type ${buf[25]}`);
  const interlaced = buf[28] !== 0;
  const raw = pngRawBytes(width, height, channels * depth, interlaced);

  const idat: Buffer[] = [];
  let compressed = 0;
  // Each chunk: length, type, data, CRC. pngjs checks the CRCs and the order of the chunks.
  for (let pos = 8; pos + 8 <= buf.length;) {
    const length = buf.readUInt32BE(pos);
    const type = buf.toString('latin1', pos + 4, pos + 8);
    if (type === 'IEND') break;
    if (type === 'IDAT') {
      const data = buf.subarray(pos + 8, Math.min(buf.length, pos + 8 + length));
      idat.push(data);
      compressed += data.length;
    }
    pos += 12 + length;
  }
  if (raw > MAX_DEFLATE_RATIO * compressed + 1024) {
    throw new Error(
      `PNG declares ${width}x${height} (${raw} bytes of scanlines) in only ${compressed} compressed bytes`,
    );
  }
  if (interlaced) {
    try {
      inflateSync(Buffer.concat(idat), { maxOutputLength: raw });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw err;
      throw new Error(`PNG data inflates past the ${raw} bytes its ${width}x${height} need`, { cause: err });
    }
  }
}

/**
 * Decodes a PNG or JPEG image read from `source` (named in errors). Throws DataError
 * IMAGE_DECODE naming `source` for anything else, for a damaged image, and for one that declares
 * more than `maxPixels` pixels (MAX_IMAGE_PIXELS unless a test asks for less) before anything is
 * allocated for it; truncated JPEGs are rejected rather than decoded partially.
 */
export function decodeImage(bytes: Uint8Array, source: string, maxPixels = MAX_IMAGE_PIXELS): RgbaImage {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let img: RgbaImage;
  try {
    if (startsWith(bytes, PNG_MAGIC)) {
      checkPng(buf, maxPixels);
      const png = PNG.sync.read(buf);
      img = { width: png.width, height: png.height, rgba: png.data };
    } else if (startsWith(bytes, JPEG_MAGIC)) {
      const j = jpeg.decode(buf, {
        useTArray: true,
        formatAsRGBA: true,
        tolerantDecoding: false,
        maxResolutionInMP: maxPixels / 1e6,
        maxMemoryUsageInMB: (maxPixels * JPEG_BYTES_PER_PIXEL) / 2 ** 20,
      });
      img = { width: j.width, height: j.height, rgba: j.data };
    } else {
      throw new Error('neither PNG nor JPEG (unrecognised magic bytes)');
    }
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new DataError('IMAGE_DECODE', `${source}: cannot decode image: ${message}`, { cause: err });
  }
  if (img.width <= 0 || img.height <= 0 || img.rgba.length !== img.width * img.height * 4) {
    throw new DataError(
      'IMAGE_DECODE',
      `${source}: decoder returned a malformed ${img.width}x${img.height} image`,
    );
  }
  return img;
}
