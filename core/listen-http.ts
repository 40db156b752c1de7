/**
 * Starts a read-only HTTP endpoint (Prometheus's /metrics, the job pages) on host:port: the port
 * it got (port 0 picks one), and a close that also drops the keep-alive connections scrapers and
 * browsers hold, so the process can exit.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { HarmoniumError } from './errors.js';

/** A listening endpoint. */
export interface ListeningHttp {
  /** The port bound, the one picked when 0 was asked for. */
  readonly port: number;
  /** The address bound, e.g. `127.0.0.1`. */
  readonly address: string;
  /** http://address:port (IPv6 in brackets). */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Listens with `server`; rejects with a HarmoniumError (code IO) naming `what` and host:port when
 * it cannot, e.g. when the port is taken.
 */
export function listenHttp(server: Server, host: string, port: number, what: string): Promise<ListeningHttp> {
  const where = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const why = err.code === 'EADDRINUSE' ? 'the port is already in use' : err.message;
      reject(new HarmoniumError('IO', `${what} cannot listen on ${where}: ${why}`, { cause: err }));
    });
    server.listen(port, host, () => {
      const bound = server.address() as AddressInfo;
      const shown = bound.address.includes(':') ? `[${bound.address}]` : bound.address;
      resolve({
        port: bound.port,
        address: bound.address,
        url: `http://${shown}:${bound.port}`,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            server.closeAllConnections();
          }),
      });
    });
  });
}
