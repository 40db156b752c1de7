/** Helpers for the data tests (not used by the library). */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { basename, join } from 'node:path';
import { DataError } from '../errors.js';

/** An `assert.throws` / `assert.rejects` validator: a DataError with this code and a matching message. */
export function isDataError(code: string, pattern: RegExp): (e: unknown) => boolean {
  return (e) => {
    assert.ok(e instanceof DataError, `expected DataError, got ${String(e)}`);
    assert.equal(e.code, code);
    assert.match(e.message, pattern);
    return true;
  };
}

/** An IDX file's bytes: magic (type, rank), big-endian dimensions, then `data`. */
export function idx(dims: readonly number[], data: Uint8Array, type = 0x08): Buffer {
  const head = Buffer.alloc(4 + 4 * dims.length);
  head[2] = type;
  head[3] = dims.length;
  dims.forEach((d, i) => head.writeUInt32BE(d, 4 + 4 * i));
  return Buffer.concat([head, data]);
}

/** What {@link startFileServer} does wrong with one file, for the failure tests. */
export type ServerFault =
  | { readonly kind: 'stall'; readonly afterBytes: number }
  | { readonly kind: 'reset'; readonly afterBytes: number; readonly times: number }
  | { readonly kind: 'status'; readonly status: number; readonly times: number }
  | { readonly kind: 'ignore-range' };

/** One request the file server answered. */
export interface ServedRequest {
  readonly file: string;
  /** The Range header's [first, last] byte, or null for a whole-file GET. */
  readonly range: readonly [number, number] | null;
}

/** A static HTTP server on 127.0.0.1 (port 0) for the files of `dir`, with Range support. */
export interface FileServer {
  /** Base URL of the directory, ending in "/". */
  readonly url: string;
  readonly requests: ServedRequest[];
  /** Faults by file name; a fault with `times` wears off after that many requests. */
  readonly faults: Map<string, ServerFault>;
  close(): Promise<void>;
}

/** A certificate and key to serve HTTPS with (PEM). */
export interface FileServerTls {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Serves `dir` as {@link FileServer} describes, over HTTPS when `tls` is given. */
export async function startFileServer(dir: string, tls?: FileServerTls): Promise<FileServer> {
  const requests: ServedRequest[] = [];
  const faults = new Map<string, ServerFault>();
  const sockets = new Set<Socket>();
  const serve: RequestListener = (req, res) => {
    void (async () => {
      const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
      const file = path.startsWith('/corpus/') ? path.slice('/corpus/'.length) : '';
      const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
      const range = m ? ([Number(m[1]), Number(m[2])] as const) : null;
      requests.push({ file, range });
      let data: Buffer;
      try {
        if (file === '' || file !== basename(file)) throw new Error('outside the corpus');
        data = await readFile(join(dir, file));
      } catch {
        res.writeHead(404).end('not found');
        return;
      }
      const fault = faults.get(file);
      if (fault && 'times' in fault) {
        if (fault.times <= 1) faults.delete(file);
        else faults.set(file, { ...fault, times: fault.times - 1 });
      }
      if (fault?.kind === 'status') {
        res.writeHead(fault.status).end('injected');
        return;
      }
      let body = data;
      if (range && fault?.kind !== 'ignore-range' && range[0] >= data.length) {
        res.writeHead(416, { 'content-range': `bytes */${data.length}` }).end();
        return;
      }
      if (range && fault?.kind !== 'ignore-range') {
        const last = Math.min(range[1], data.length - 1);
        body = data.subarray(range[0], last + 1);
        res.writeHead(206, {
          'content-range': `bytes ${range[0]}-${last}/${data.length}`,
          'content-length': body.length,
        });
      } else {
        res.writeHead(200, { 'content-length': data.length });
      }
      if (fault?.kind === 'stall' || fault?.kind === 'reset') {
        res.write(body.subarray(0, fault.afterBytes));
        // A stall leaves the connection open with nothing more to come; a reset drops it.
        if (fault.kind === 'reset') setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      res.end(body);
    })();
  };
  const server = tls ? createTlsServer({ cert: tls.cert, key: tls.key }, serve) : createServer(serve);
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `${tls ? 'https' : 'http'}://127.0.0.1:${port}/corpus/`,
    requests,
    faults,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
