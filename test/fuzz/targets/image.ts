/**
 * Fuzz target: decodeImage on PNG and JPEG bytes. Inputs are PNGs from pngjs and JPEGs from
 * jpeg-js, mutated (with the PNG CRCs fixed up afterwards for half of them); PNGs built with any
 * header fields, scanlines of any length and interlacing (png-builder.ts), among them
 * decompression bombs; and JPEGs whose frame header declares any size.
 */
import { deflateSync } from 'node:zlib';

import fc from 'fast-check';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';

import { decodeImage } from '../../../core/data/image-decode.js';
import type { FuzzTarget } from '../fuzz-target.js';
import { mutatedBytes } from '../mutate.js';
import { buildPng, withPngCrcs } from '../png-builder.js';

/** Far below MAX_IMAGE_PIXELS (256 x 256), so that an image the limit misses shows up as growth. */
const MAX_PIXELS = 1 << 16;

function rgba(width: number, height: number): Buffer {
  return Buffer.from(Uint8Array.from({ length: width * height * 4 }, (_, i) => (i * 29) & 0xff));
}

function png(width: number, height: number, colorType: 0 | 2 | 4 | 6, bitDepth: 8 | 16): Buffer {
  const img = new PNG({ width, height });
  img.data = rgba(width, height);
  if (bitDepth === 16) {
    const d16 = Buffer.alloc(width * height * 8);
    for (let i = 0; i < width * height * 4; i++) d16.writeUInt16LE(img.data[i]! * 257, i * 2);
    img.data = d16;
  }
  return PNG.sync.write(img, { colorType, bitDepth });
}

function jpg(width: number, height: number, quality: number): Buffer {
  return jpeg.encode({ width, height, data: rgba(width, height) }, quality).data;
}

/** `bytes` with the frame size of its first baseline or progressive SOF set to `width` x `height`. */
function withJpegSize(bytes: Uint8Array, width: number, height: number): Buffer {
  const out = Buffer.from(bytes);
  for (let i = 2; i + 9 <= out.length; i++) {
    if (out[i] === 0xff && (out[i + 1] === 0xc0 || out[i + 1] === 0xc2)) {
      out.writeUInt16BE(height, i + 5);
      out.writeUInt16BE(width, i + 7);
      break;
    }
  }
  return out;
}

/** Deflated zeros, far more than the small images they are put into declare: a bomb. */
let bomb: Buffer | null = null;

const dimension = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 0, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(256, 257, 65_535, 65_536, 2 ** 31 - 1, 2 ** 32 - 1) },
);

const builtPng: fc.Arbitrary<Uint8Array> = fc
  .record({
    width: dimension,
    height: dimension,
    depth: fc.constantFrom(1, 2, 4, 8, 16, 3, 0),
    colorType: fc.constantFrom(0, 2, 3, 4, 6, 1, 7),
    interlace: fc.constantFrom(0, 0, 1, 2),
    palette: fc.option(fc.uint8Array({ maxLength: 800 })),
    transparency: fc.option(fc.uint8Array({ maxLength: 300 })),
    scanlines: fc.oneof(
      fc.uint8Array({ maxLength: 4096 }),
      fc.constant(null),
      fc.integer({ min: 0, max: 4096 }).map((n) => new Uint8Array(n)),
    ),
  })
  .map((p) => {
    if (p.scanlines !== null) return buildPng({ ...p, scanlines: p.scanlines });
    bomb ??= deflateSync(Buffer.alloc(16 << 20));
    return withPngCrcs(idatSwapped(buildPng({ ...p, scanlines: new Uint8Array(0) }), bomb));
  });

/** `file` with the data of its first IDAT chunk replaced by `data` (CRC left to the caller). */
function idatSwapped(file: Buffer, data: Buffer): Buffer {
  for (let pos = 8; pos + 12 <= file.length;) {
    const length = file.readUInt32BE(pos);
    if (file.toString('latin1', pos + 4, pos + 8) === 'IDAT') {
      const head = Buffer.from(file.subarray(0, pos + 8));
      head.writeUInt32BE(data.length, pos);
      return Buffer.concat([head, data, file.subarray(pos + 8 + length)]);
    }
    pos += 12 + length;
  }
  return file;
}

/** The image fuzz target. */
export const imageTarget: FuzzTarget = {
  name: 'image',
  seeds: () => [
    png(8, 8, 6, 8),
    png(5, 3, 0, 8),
    png(4, 4, 2, 16),
    png(3, 7, 4, 8),
    buildPng({
      width: 9,
      height: 9,
      depth: 8,
      colorType: 0,
      interlace: 1,
      palette: null,
      transparency: null,
      // The 7 Adam7 passes of a 9x9 grey image: 19 rows of 1 to 9 pixels, a filter byte each.
      scanlines: new Uint8Array(6 + 4 + 4 + 9 + 12 + 25 + 40),
    }),
    jpg(8, 8, 90),
    jpg(17, 9, 50),
  ],
  arbitrary: (seeds) =>
    fc.oneof(
      mutatedBytes(seeds),
      mutatedBytes(seeds).map(withPngCrcs),
      builtPng,
      fc
        .tuple(fc.nat(seeds.length - 1), fc.nat(65_535), fc.nat(65_535))
        .map(([i, w, h]) => withJpegSize(seeds[i]!, w, h)),
    ),
  run: (input) => decodeImage(input, 'fuzz.img', MAX_PIXELS),
};
