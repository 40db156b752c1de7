/**
 * The HTTP endpoint Prometheus scrapes: `GET /metrics` answers with a registry's metrics in its
 * exposition format; every other path is a 404, every other method a 405.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { listenHttp, type ListeningHttp } from '../listen-http.js';

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };

/** Where to listen; port 0 picks a free port. */
export interface MetricsServerOptions {
  readonly host: string;
  readonly port: number;
}

/** A listening metrics server. */
export type MetricsServer = ListeningHttp;

/**
 * Serves `registry` at `http://host:port/metrics`; a function is asked for the registry (or the
 * registries, whose metric names must not repeat) at every scrape (a coordinator serves its own
 * presence and the metrics of whichever job it runs). Rejects with a HarmoniumError (code IO)
 * naming `host:port` when the server cannot listen there, e.g. when the port is taken.
 */
export function serveMetrics(
  registry: Registry | (() => Registry | readonly Registry[]),
  options: MetricsServerOptions,
): Promise<MetricsServer> {
  const current = typeof registry === 'function' ? registry : () => registry;
  const server = createServer((req, res) => {
    respond(current(), req, res).catch((err: unknown) => {
      // A failing collector costs one scrape, never the process serving it.
      if (res.headersSent) res.destroy();
      else res.writeHead(500, TEXT).end(`collecting metrics failed: ${String(err)}\n`);
    });
  });
  return listenHttp(server, options.host, options.port, 'metrics server');
}

async function respond(
  registry: Registry | readonly Registry[],
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  // Only the path matters: a scrape config may add query parameters to the URL.
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, TEXT).end('not found; metrics are at /metrics\n');
    return;
  }
  // Node leaves the body out of a HEAD response by itself.
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...TEXT, Allow: 'GET, HEAD' }).end();
    return;
  }
  const registries = Array.isArray(registry) ? registry : [registry as Registry];
  const bodies = await Promise.all(registries.map((r) => r.metrics()));
  const contentType = registries[0]?.contentType ?? 'text/plain; version=0.0.4; charset=utf-8';
  res.writeHead(200, { 'Content-Type': contentType }).end(bodies.filter((b) => b !== '').join('\n'));
}
