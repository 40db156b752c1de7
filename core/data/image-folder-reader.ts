/**
 * Reads a folder tree of PNG and JPEG images into an ImageSet of a fixed geometry. Files are
 * chosen by extension (.png, .jpg, .jpeg, any case); names starting with "." are skipped (editor
 * and OS droppings such as .DS_Store or ._x.jpg). Order is the sorted relative paths ("/"
 * separated, compared by UTF-16 code units, so it does not depend on the locale).
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

import { pixelsPerImage } from './corpus.js';
import type { ImageSet, ImageShape } from './corpus.js';
import { decodeImage } from './image-decode.js';
import { resizeInto } from './image-resize.js';
import { DataError } from '../errors.js';

const IMAGE_EXT = /\.(png|jpe?g)$/i;
/** ImageSet labels are uint8. */
const MAX_CLASSES = 256;

/** Options for {@link readImageFolder}: the geometry every image is converted to. */
export interface ImageFolderOptions extends ImageShape {
  /** Name of the resulting set; defaults to `images:<dir>`. */
  readonly name?: string;
}

function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

async function listImages(root: string, rel: string, out: string[]): Promise<string[]> {
  const dir = rel === '' ? root : join(root, rel);
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new DataError('DATA_NOT_FOUND', `${dir}: no such directory`, { cause: err });
    throw new DataError('IO', `cannot list ${dir}: ${(err as Error).message}`, { cause: err });
  }
  for (const e of entries) {
    if (e.name.startsWith('.')) continue;
    const r = rel === '' ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) await listImages(root, r, out);
    else if (e.isFile() && IMAGE_EXT.test(e.name)) out.push(r);
  }
  return out;
}

/**
 * Labels from the layout DIR/<class>/<file>: when every image sits exactly one folder deep, the
 * label is the index of its folder among the sorted names of the folders holding images.
 * Otherwise (images at the top or deeper, or more than 256 classes) there are no labels.
 */
function folderLabels(paths: readonly string[]): Uint8Array | null {
  const parts = paths.map((p) => p.split('/'));
  if (parts.length === 0 || parts.some((p) => p.length !== 2)) return null;
  const classes = [...new Set(parts.map((p) => p[0]!))].sort(byCodeUnits);
  if (classes.length > MAX_CLASSES) return null;
  const index = new Map(classes.map((c, i) => [c, i]));
  return Uint8Array.from(parts, (p) => index.get(p[0]!)!);
}

/**
 * Reads every PNG/JPEG under `dir` (recursively) converted to `opts` height x width x channels
 * (1: luma grey, 3: RGB; alpha ignored) by area averaging (see image-resize.ts). Images come in
 * sorted relative-path order; labels follow the DIR/<class>/<file> layout when it applies.
 * Throws DataError: DATA_NOT_FOUND when `dir` is missing or holds no images, IMAGE_DECODE naming
 * the file for any unreadable image (nothing is skipped silently), IO for read failures.
 */
export async function readImageFolder(dir: string, opts: ImageFolderOptions): Promise<ImageSet> {
  const shape: ImageShape = { height: opts.height, width: opts.width, channels: opts.channels };
  if (opts.channels !== 1 && opts.channels !== 3) {
    throw new RangeError(`channels must be 1 or 3, got ${opts.channels}`);
  }
  if (!(Number.isInteger(opts.height) && opts.height > 0 && Number.isInteger(opts.width) && opts.width > 0)) {
    throw new RangeError(`height and width must be positive integers, got ${opts.height}x${opts.width}`);
  }
  const paths = (await listImages(dir, '', [])).sort(byCodeUnits);
  if (paths.length === 0) {
    throw new DataError('DATA_NOT_FOUND', `${dir}: no .png, .jpg or .jpeg images found`);
  }
  const d = pixelsPerImage(shape);
  const pixels = new Uint8Array(paths.length * d);
  for (let i = 0; i < paths.length; i++) {
    const file = join(dir, paths[i]!);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new DataError('IO', `cannot read ${file}: ${(err as Error).message}`, { cause: err });
    }
    resizeInto(decodeImage(bytes, file), shape, pixels, i * d);
  }
  return {
    name: opts.name ?? `images:${dir}`,
    shape,
    count: paths.length,
    pixels,
    labels: folderLabels(paths),
  };
}
