/** A small RGB raster with the few drawing operations the pictures need, written out as PNG. */
import { rename, rm, writeFile } from 'node:fs/promises';
import { PNG } from 'pngjs';
import { HarmoniumError } from '../errors.js';

/** Distinguishes temporary files of concurrent writes from this process. */
let tmpCounter = 0;

/** An 8-bit colour: red, green, blue in 0..255. */
export type Rgb = readonly [number, number, number];

/** 3x5 bitmaps of the digits 0-9, one row per 3-bit number (bit 2 = left column). */
const DIGIT_GLYPHS: readonly (readonly number[])[] = [
  [7, 5, 5, 5, 7],
  [2, 6, 2, 2, 7],
  [7, 1, 7, 4, 7],
  [7, 1, 7, 1, 7],
  [5, 5, 7, 1, 1],
  [7, 4, 7, 1, 7],
  [7, 4, 7, 5, 7],
  [7, 1, 1, 1, 1],
  [7, 5, 7, 5, 7],
  [7, 5, 7, 1, 7],
];

/** An RGB image, row-major, 3 bytes per pixel; drawing clips at the edges. */
export class RgbImage {
  readonly width: number;
  readonly height: number;
  /** width * height * 3 bytes. */
  readonly data: Uint8Array;

  constructor(width: number, height: number, background: Rgb = [255, 255, 255]) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new RangeError(`image size must be positive integers, got ${width} x ${height}`);
    }
    this.width = width;
    this.height = height;
    this.data = new Uint8Array(width * height * 3);
    this.fill(background);
  }

  /** Paints every pixel. */
  fill(rgb: Rgb): void {
    for (let i = 0; i < this.data.length; i += 3) {
      this.data[i] = rgb[0];
      this.data[i + 1] = rgb[1];
      this.data[i + 2] = rgb[2];
    }
  }

  /** Sets pixel (x, y); coordinates outside the image are ignored. */
  setPixel(x: number, y: number, rgb: Rgb): void {
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.data[o] = rgb[0];
    this.data[o + 1] = rgb[1];
    this.data[o + 2] = rgb[2];
  }

  /** The colour at (x, y). */
  getPixel(x: number, y: number): Rgb {
    const o = (y * this.width + x) * 3;
    return [this.data[o]!, this.data[o + 1]!, this.data[o + 2]!];
  }

  /** Fills the w x h rectangle whose top-left corner is (x, y). */
  fillRect(x: number, y: number, w: number, h: number, rgb: Rgb): void {
    const x0 = Math.max(0, Math.floor(x));
    const y0 = Math.max(0, Math.floor(y));
    const x1 = Math.min(this.width, Math.floor(x + w));
    const y1 = Math.min(this.height, Math.floor(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, rgb);
  }

  /** Fills a square of side `size` centred on (cx, cy). */
  fillSquare(cx: number, cy: number, size: number, rgb: Rgb): void {
    this.fillRect(Math.round(cx - size / 2), Math.round(cy - size / 2), size, size, rgb);
  }

  /** Fills the disc of radius `r` centred on (cx, cy): the pixels whose centres lie inside. */
  fillCircle(cx: number, cy: number, r: number, rgb: Rgb): void {
    const y0 = Math.floor(cy - r);
    const x0 = Math.floor(cx - r);
    for (let y = y0; y <= Math.ceil(cy + r); y++) {
      for (let x = x0; x <= Math.ceil(cx + r); x++) {
        const dx = x + 0.5 - cx;
        const dy = y + 0.5 - cy;
        if (dx * dx + dy * dy <= r * r) this.setPixel(x, y, rgb);
      }
    }
  }

  /**
   * Draws a string of decimal digits with a 3x5 pixel font scaled by `scale`, top-left at (x, y);
   * enough to label a legend without a font dependency. Other characters leave a gap.
   */
  drawDigits(x: number, y: number, text: string, rgb: Rgb, scale = 1): void {
    for (let c = 0; c < text.length; c++) {
      const glyph = DIGIT_GLYPHS[text.charCodeAt(c) - 48];
      const left = x + c * 4 * scale;
      if (!glyph) continue;
      for (let row = 0; row < 5; row++) {
        for (let col = 0; col < 3; col++) {
          if ((glyph[row]! >> (2 - col)) & 1)
            this.fillRect(left + col * scale, y + row * scale, scale, scale, rgb);
        }
      }
    }
  }

  /** The image as PNG bytes (8-bit RGB). */
  toPng(): Buffer {
    const png = new PNG({ width: this.width, height: this.height });
    png.data = Buffer.from(this.data.buffer, this.data.byteOffset, this.data.byteLength);
    return PNG.sync.write(png, { colorType: 2, inputColorType: 2, inputHasAlpha: false });
  }

  /**
   * Writes the PNG to `path` atomically: to a temporary file beside it, then renamed over it, so a
   * reader (the dashboard) never sees half a picture.
   */
  async writePng(path: string): Promise<void> {
    const tmp = `${path}.${process.pid}-${tmpCounter++}.tmp`;
    try {
      await writeFile(tmp, this.toPng());
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw new HarmoniumError('IO', `cannot write picture ${path}: ${String(err)}`, { cause: err });
    }
  }
}
