/**
 * A sharded corpus served over HTTP(S) by any static server or S3-compatible gateway that serves
 * the manifest and the tars. Each shard is fetched in ranges (`Range: bytes=a-b`), so a dropped
 * connection resumes where it broke instead of starting over and no single request runs long;
 * the bytes are hashed as they arrive and handed out only once the whole shard matches the
 * manifest's size and sha256. Every request has a stall deadline (no byte for `stallMs`), failures a
 * server may recover from (5xx, a reset, a stall) are retried with backoff, and verified shards go
 * to a bounded local cache (shard-cache.ts) so later epochs read them from disk.
 */
import { createHash, type Hash } from 'node:crypto';

import { MANIFEST_FILE } from './shard-manifest.js';
import type { ShardInfo } from './shard-manifest.js';
import type { ShardCache } from './shard-cache.js';
import { MAX_MANIFEST_BYTES, type ShardStore } from './shard-store.js';
import { DataError } from '../errors.js';

/** Options of {@link HttpShardStore}. */
export interface HttpShardStoreOptions {
  /** Milliseconds a request may go without receiving a byte before it fails (default 30 s). */
  readonly stallMs?: number;
  /** Retries of a request after a failure the server may recover from (default 4). */
  readonly retries?: number;
  /** Bytes per range request (default 8 MiB). */
  readonly rangeBytes?: number;
  /** Verified shards are kept here and read back from it; null (default): none. */
  readonly cache?: ShardCache | null;
}

/** Whether a corpus location is a URL this store reads. */
export function isShardUrl(location: string): boolean {
  return /^https?:\/\//i.test(location);
}

/** A failure worth another try: the server may recover, or the next connection may get through. */
class Transient extends Error {
  constructor(
    readonly error: DataError,
    /** Bytes of this attempt already received and hashed: the next one resumes after them. */
    readonly received: number,
  ) {
    super(error.message);
  }
}

const BACKOFF_MS = 200;

/** OpenSSL's verification failures as Node names them: the peer's certificate, not the network. */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The shards of a corpus at an http(s):// URL. */
export class HttpShardStore implements ShardStore {
  readonly location: string;
  private readonly base: URL;
  private readonly stallMs: number;
  private readonly retries: number;
  private readonly rangeBytes: number;
  private readonly cache: ShardCache | null;

  constructor(location: string, options: HttpShardStoreOptions = {}) {
    this.location = location;
    // A base without a trailing slash would resolve file names against its parent.
    this.base = new URL(location.endsWith('/') ? location : `${location}/`);
    this.stallMs = options.stallMs ?? 30_000;
    this.retries = options.retries ?? 4;
    this.rangeBytes = options.rangeBytes ?? 8 << 20;
    this.cache = options.cache ?? null;
  }

  where(file: string): string {
    return new URL(file, this.base).href;
  }

  async readManifest(): Promise<string> {
    const url = this.where(MANIFEST_FILE);
    const parts: Buffer[] = [];
    let size = 0;
    await this.withRetries(0, async () => {
      parts.length = 0;
      size = 0;
      const res = await this.request(url, null, 0);
      if (res.status === 404 || res.status === 410) {
        await res.body?.cancel();
        throw new DataError(
          'DATA_NOT_FOUND',
          `${url}: HTTP ${res.status} (is ${this.location} a sharded corpus?)`,
        );
      }
      if (res.status !== 200) throw this.statusError(url, res);
      const declared = Number(res.headers.get('content-length') ?? NaN);
      if (declared > MAX_MANIFEST_BYTES) {
        await res.body?.cancel();
        throw new DataError(
          'DATA_FORMAT',
          `${url}: ${declared} bytes, more than a manifest may hold (${MAX_MANIFEST_BYTES})`,
        );
      }
      await this.readBody(
        url,
        res,
        () => 0,
        (chunk) => {
          size += chunk.length;
          if (size > MAX_MANIFEST_BYTES) {
            throw new DataError(
              'DATA_FORMAT',
              `${url}: more than a manifest may hold (${MAX_MANIFEST_BYTES} bytes)`,
            );
          }
          parts.push(Buffer.from(chunk));
        },
      );
      return 0;
    });
    return Buffer.concat(parts).toString('utf8');
  }

  async readShard(info: ShardInfo): Promise<Buffer> {
    const cached = await this.cache?.get(info);
    if (cached) return cached;
    const url = this.where(info.file);
    const buf = Buffer.allocUnsafe(info.bytes);
    const hash = createHash('sha256');
    let pos = 0;
    while (pos < info.bytes) {
      const end = Math.min(info.bytes, pos + this.rangeBytes);
      pos = await this.withRetries(pos, (from) => this.fetchRange(url, info, buf, hash, from, end));
    }
    const digest = hash.digest('hex');
    if (digest !== info.sha256) {
      throw new DataError(
        'DATA_CHECKSUM',
        `${url}: sha256 is ${digest}, ${MANIFEST_FILE} says ${info.sha256}`,
      );
    }
    await this.cache?.put(info, buf);
    return buf;
  }

  /** Fetches [from, end) of the shard into `buf`, hashing it; returns `end`. */
  private async fetchRange(
    url: string,
    info: ShardInfo,
    buf: Buffer,
    hash: Hash,
    from: number,
    end: number,
  ): Promise<number> {
    const res = await this.request(url, [from, end - 1], from);
    if (res.status === 404 || res.status === 410) {
      await res.body?.cancel();
      throw new DataError('DATA_NOT_FOUND', `${url}: HTTP ${res.status} (shard listed in ${MANIFEST_FILE})`);
    }
    let at = from;
    // A file of another size than the manifest's is a changed shard, whatever range was asked for.
    const total = /\/(\d+)$/.exec(res.headers.get('content-range') ?? '')?.[1];
    if ((res.status === 206 || res.status === 416) && total !== undefined && Number(total) !== info.bytes) {
      await res.body?.cancel();
      throw new DataError(
        'DATA_CHECKSUM',
        `${url}: size is ${total} bytes, ${MANIFEST_FILE} says ${info.bytes}`,
      );
    }
    if (res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== from || Number(range[2]) !== end - 1) {
        await res.body?.cancel();
        throw new DataError(
          'DATA_UNAVAILABLE',
          `${url}: asked for bytes ${from}-${end - 1}, got Content-Range "${res.headers.get('content-range')}"`,
        );
      }
    } else if (res.status === 200) {
      // A server that ignores Range sends the whole file: usable from its first byte only.
      if (from !== 0) {
        await res.body?.cancel();
        throw new DataError(
          'DATA_UNAVAILABLE',
          `${url}: the server ignored a Range request (HTTP 200 at byte ${from})`,
        );
      }
      end = info.bytes;
    } else {
      throw this.statusError(url, res);
    }
    await this.readBody(
      url,
      res,
      () => at - from,
      (chunk) => {
        if (at + chunk.length > end) {
          throw new DataError(
            'DATA_CHECKSUM',
            `${url}: sent more than the ${end - from} bytes asked for at byte ${from} (${MANIFEST_FILE} says ${info.bytes} in all)`,
          );
        }
        buf.set(chunk, at);
        hash.update(chunk);
        at += chunk.length;
      },
    );
    if (at !== end) {
      throw new Transient(
        new DataError('DATA_UNAVAILABLE', `${url}: the response ended at byte ${at}, expected ${end}`),
        at - from,
      );
    }
    return end;
  }

  /** Sends a GET (of `range`, inclusive, when given) with the stall deadline on its headers. */
  private async request(url: string, range: [number, number] | null, at: number): Promise<Response> {
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.stallMs);
    try {
      return await fetch(url, {
        headers: range ? { range: `bytes=${range[0]}-${range[1]}` } : {},
        signal: abort.signal,
        redirect: 'follow',
      });
    } catch (err) {
      if (abort.signal.aborted) {
        throw new Transient(
          new DataError('DATA_TIMEOUT', `${url}: no response within ${this.stallMs} ms (at byte ${at})`, {
            cause: err,
          }),
          0,
        );
      }
      // fetch says only "fetch failed"; what failed (ECONNREFUSED, a certificate) is its cause.
      const cause = (err as { cause?: unknown }).cause;
      const code = (cause as { code?: unknown } | undefined)?.code;
      const why =
        cause instanceof Error
          ? `${cause.message}${typeof code === 'string' ? ` (${code})` : ''}`
          : String(err);
      if (typeof code === 'string' && UNTRUSTED_CERTIFICATE.has(code)) {
        // No retry makes a certificate trusted.
        throw new DataError(
          'DATA_UNAVAILABLE',
          `${url}: the server's TLS certificate is not trusted: ${why}; for a private CA, start ` +
            'Harmonium with NODE_EXTRA_CA_CERTS=/path/to/ca.crt',
          { cause: err },
        );
      }
      throw new Transient(new DataError('DATA_UNAVAILABLE', `${url}: ${why}`, { cause: err }), 0);
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Reads the body chunk by chunk into `take`; a chunk that does not come within the stall
   * deadline ends the read with a transient DATA_TIMEOUT. `received` says how many bytes of the
   * attempt a retry may keep (it resumes after them).
   */
  private async readBody(
    url: string,
    res: Response,
    received: () => number,
    take: (chunk: Uint8Array) => void,
  ): Promise<void> {
    const reader = res.body?.getReader();
    if (!reader) return;
    try {
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const stalled = new Promise<'stalled'>((resolve) => {
          timer = setTimeout(() => resolve('stalled'), this.stallMs);
        });
        let next: Awaited<ReturnType<typeof reader.read>> | 'stalled';
        try {
          next = await Promise.race([reader.read(), stalled]);
        } catch (err) {
          throw new Transient(
            new DataError('DATA_UNAVAILABLE', `${url}: ${(err as Error).message}`, { cause: err }),
            received(),
          );
        } finally {
          clearTimeout(timer);
        }
        if (next === 'stalled') {
          throw new Transient(
            new DataError(
              'DATA_TIMEOUT',
              `${url}: no data for ${this.stallMs} ms after ${received()} bytes of the response`,
            ),
            received(),
          );
        }
        if (next.done) return;
        take(next.value);
      }
    } finally {
      reader.cancel().catch(() => undefined);
    }
  }

  private statusError(url: string, res: Response): Error {
    res.body?.cancel().catch(() => undefined);
    const error = new DataError('DATA_UNAVAILABLE', `${url}: HTTP ${res.status} ${res.statusText}`.trim());
    // A client error will not change on a retry; a server error or throttling may.
    return res.status >= 500 || res.status === 429 ? new Transient(error, 0) : error;
  }

  /**
   * Runs `attempt` from byte `from`, again after a transient failure (resuming after what it
   * received) up to `retries` times with exponential backoff; returns what the attempt returns.
   */
  private async withRetries(from: number, attempt: (from: number) => Promise<number>): Promise<number> {
    let at = from;
    for (let tries = 0; ; tries++) {
      try {
        return await attempt(at);
      } catch (err) {
        if (!(err instanceof Transient)) throw err;
        if (tries >= this.retries) {
          throw new DataError(err.error.code, `${err.error.message} (gave up after ${tries + 1} attempts)`, {
            cause: err.error,
          });
        }
        at += err.received;
        await new Promise((resolve) => setTimeout(resolve, BACKOFF_MS * 2 ** tries));
      }
    }
  }
}
