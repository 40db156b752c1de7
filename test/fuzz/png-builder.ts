/**
 * PNG files built chunk by chunk with any header fields, for the image fuzz target: pngjs checks
 * every chunk's CRC first, so inputs need right CRCs to reach its header, inflate and filter
 * code, also after their bytes were mutated (withPngCrcs).
 */
import { deflateSync } from 'node:zlib';

const SIGNATURE = Uint8Array.of(0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a);

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function chunk(type: string, data: Uint8Array): Buffer {
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  out.write(type, 4, 'latin1');
  out.set(data, 8);
  out.writeUInt32BE(crc32(out.subarray(4, 8 + data.length)), 8 + data.length);
  return out;
}

/** The fields of a PNG to build; `scanlines` are deflated as they are (filter bytes included). */
export interface PngParts {
  readonly width: number;
  readonly height: number;
  readonly depth: number;
  readonly colorType: number;
  readonly interlace: number;
  readonly palette: Uint8Array | null;
  readonly transparency: Uint8Array | null;
  readonly scanlines: Uint8Array;
}

/** A PNG of `parts` with right CRCs, whatever the fields hold. */
export function buildPng(parts: PngParts): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(parts.width >>> 0, 0);
  ihdr.writeUInt32BE(parts.height >>> 0, 4);
  ihdr[8] = parts.depth;
  ihdr[9] = parts.colorType;
  ihdr[12] = parts.interlace;
  return Buffer.concat([
    SIGNATURE,
    chunk('IHDR', ihdr),
    ...(parts.palette ? [chunk('PLTE', parts.palette)] : []),
    ...(parts.transparency ? [chunk('tRNS', parts.transparency)] : []),
    chunk('IDAT', deflateSync(parts.scanlines)),
    chunk('IEND', new Uint8Array(0)),
  ]);
}

/** `bytes` with the CRC of every whole chunk after the signature recomputed. */
export function withPngCrcs(bytes: Uint8Array): Buffer {
  const out = Buffer.from(bytes);
  for (let pos = 8; pos + 12 <= out.length;) {
    const length = out.readUInt32BE(pos);
    if (length > out.length - pos - 12) break;
    out.writeUInt32BE(crc32(out.subarray(pos + 4, pos + 8 + length)), pos + 8 + length);
    pos += 12 + length;
  }
  return out;
}
