/**
 * Finds (and when allowed, downloads) the Fashion-MNIST IDX files: first the Debian package
 * directory (apt-get install dataset-fashion-mnist), then a per-user cache, which is filled from
 * the published mirrors when files are missing. Downloads are checked against the published MD5s
 * and written to a temporary name before being renamed into place.
 */
import { createHash } from 'node:crypto';
import { access, mkdir } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { writeFileAtomic } from './atomic-write.js';
import type { ImageSet } from './corpus.js';
import { readIdxImageSet } from './idx-reader.js';
import { DataError } from '../errors.js';

/** Where the Debian/Ubuntu package dataset-fashion-mnist installs the files. */
export const FASHION_MNIST_SYSTEM_DIR = '/usr/share/datasets/fashion-mnist';

/**
 * Mirrors tried in order. The S3 website endpoint serves plain HTTP only; integrity comes from
 * the MD5 check, not the transport.
 */
export const FASHION_MNIST_MIRRORS: readonly string[] = [
  'https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/',
  'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
];

/** MD5 of each published .gz file, from the Fashion-MNIST README. */
export const FASHION_MNIST_MD5: Readonly<Record<string, string>> = {
  'train-images-idx3-ubyte.gz': '8d4fb7e6c68d591d4c3dfef9ec88bf0d',
  'train-labels-idx1-ubyte.gz': '25c81989df183df01b3e8a0aad5dffbe',
  't10k-images-idx3-ubyte.gz': 'bef4ecab320f06d8554ea6380940ec79',
  't10k-labels-idx1-ubyte.gz': 'bb300cfdad3c16e7a12a480ee83cd310',
};

const FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

type FileKey = keyof typeof FILES;

/** Paths of the four Fashion-MNIST files and the directory they were found in. */
export type FashionMnistFiles = Readonly<Record<FileKey, string>> & { readonly dir: string };

/** Where to look and whether to download; every field has a default. */
export interface FashionMnistOptions {
  /** Directories searched first, in order; default [FASHION_MNIST_SYSTEM_DIR]. */
  readonly searchDirs?: readonly string[];
  /** Download cache; default ~/.cache/harmonium/fashion-mnist. */
  readonly cacheDir?: string;
  /** Whether missing files may be downloaded into cacheDir; default true. */
  readonly download?: boolean;
  /** Base URLs, each ending in "/"; default FASHION_MNIST_MIRRORS. */
  readonly mirrors?: readonly string[];
  /** Expected MD5 per .gz file name; default FASHION_MNIST_MD5. */
  readonly md5?: Readonly<Record<string, string>>;
  /** Timeout of each HTTP request, in milliseconds; default 120000. */
  readonly timeoutMs?: number;
}

/** The default download cache directory. */
export function defaultFashionMnistCache(): string {
  return join(homedir(), '.cache', 'harmonium', 'fashion-mnist');
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The four files in `dir` (each as `<name>.gz` or plain `<name>`), or null if any is missing. */
async function findIn(dir: string): Promise<FashionMnistFiles | null> {
  const found: Partial<Record<FileKey, string>> = {};
  for (const key of Object.keys(FILES) as FileKey[]) {
    for (const candidate of [`${FILES[key]}.gz`, FILES[key]]) {
      if (await exists(join(dir, candidate))) {
        found[key] = join(dir, candidate);
        break;
      }
    }
    if (found[key] === undefined) return null;
  }
  return { dir, ...(found as Record<FileKey, string>) };
}

async function downloadOne(file: string, dest: string, opts: FashionMnistOptions): Promise<void> {
  const mirrors = opts.mirrors ?? FASHION_MNIST_MIRRORS;
  const md5 = (opts.md5 ?? FASHION_MNIST_MD5)[file];
  const failures: string[] = [];
  for (const base of mirrors) {
    const url = base + file;
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(opts.timeoutMs ?? 120_000) });
      if (!res.ok) throw new Error(`HTTP ${res.status} ${res.statusText}`);
      const body = new Uint8Array(await res.arrayBuffer());
      const got = createHash('md5').update(body).digest('hex');
      if (md5 !== undefined && got !== md5) throw new Error(`MD5 ${got}, expected ${md5}`);
      await writeFileAtomic(dest, body);
      return;
    } catch (err) {
      failures.push(`${url}: ${(err as Error).message}`);
    }
  }
  throw new DataError('DATA_NOT_FOUND', `cannot download ${file}: ${failures.join('; ')}`);
}

function notFoundMessage(searched: readonly string[], cacheDir: string, reason: string): string {
  return (
    `Fashion-MNIST not found (looked in ${[...searched, cacheDir].join(', ')}; ${reason}). ` +
    `Install it with "sudo apt-get install dataset-fashion-mnist" (files go to ${FASHION_MNIST_SYSTEM_DIR}), ` +
    `or allow downloading with internet access, or put ${Object.values(FILES)
      .map((f) => `${f}.gz`)
      .join(', ')} into ${cacheDir} (from ${FASHION_MNIST_MIRRORS[0]}).`
  );
}

/**
 * Finds the Fashion-MNIST train/t10k IDX files: in `searchDirs`, then `cacheDir`, downloading
 * what the cache lacks when `download` is on. Throws DataError DATA_NOT_FOUND saying how to get
 * the files when they are nowhere and cannot be downloaded.
 */
export async function locateFashionMnist(opts: FashionMnistOptions = {}): Promise<FashionMnistFiles> {
  const searched = opts.searchDirs ?? [FASHION_MNIST_SYSTEM_DIR];
  const cacheDir = opts.cacheDir ?? defaultFashionMnistCache();
  for (const dir of [...searched, cacheDir]) {
    const found = await findIn(dir);
    if (found !== null) return found;
  }
  if (opts.download === false) {
    throw new DataError('DATA_NOT_FOUND', notFoundMessage(searched, cacheDir, 'downloading is disabled'));
  }
  try {
    await mkdir(cacheDir, { recursive: true });
    for (const name of Object.values(FILES)) {
      const file = `${name}.gz`;
      const dest = join(cacheDir, file);
      if (!(await exists(dest)) && !(await exists(join(cacheDir, name)))) await downloadOne(file, dest, opts);
    }
  } catch (err) {
    throw new DataError('DATA_NOT_FOUND', notFoundMessage(searched, cacheDir, (err as Error).message), {
      cause: err,
    });
  }
  const found = await findIn(cacheDir);
  if (found === null)
    throw new DataError('DATA_NOT_FOUND', notFoundMessage(searched, cacheDir, 'download incomplete'));
  return found;
}

/**
 * Loads Fashion-MNIST (60000 train and 10000 test images, 28x28 grey, labels 0..9) as
 * "fashion-mnist/train" and "fashion-mnist/test". See locateFashionMnist for where it looks.
 */
export async function loadFashionMnist(
  opts: FashionMnistOptions = {},
): Promise<{ train: ImageSet; test: ImageSet }> {
  const f = await locateFashionMnist(opts);
  const numClasses = 10;
  const [train, test] = await Promise.all([
    readIdxImageSet(f.trainImages, f.trainLabels, 'fashion-mnist/train', { numClasses }),
    readIdxImageSet(f.testImages, f.testLabels, 'fashion-mnist/test', { numClasses }),
  ]);
  return { train, test };
}
