/**
 * The coordinator's job pages over HTTP (`--http-port`): `/` lists the jobs, `/jobs/ID/` is a job's
 * live page (core/job-page), `/jobs/ID/status.json` its data and `/jobs/ID/pictures/NAME` its
 * pictures. Read-only and unauthenticated, like /metrics: it binds 127.0.0.1 unless told otherwise.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

import { listenHttp, type ListeningHttp } from '../core/listen-http.js';
import { PICTURE_NAME, type JobPageData } from '../core/job-page/job-page-data.js';
import { renderJobPage } from '../core/job-page/job-page-html.js';
import { escapeHtml } from '../core/report/html-escape.js';

/** What the pages show, asked at every request. */
export interface JobPageSource {
  /** Every job the coordinator knows, newest last. */
  jobList(): readonly { readonly id: string; readonly state: string; readonly model: string }[];
  /** A job's data, or null when there is no such job. */
  pageData(jobId: string): JobPageData | null;
  /** A job's picture (PNG bytes), or null when it has none of that name. */
  picture(jobId: string, name: string): Promise<Buffer | null>;
}

/** A listening page server. */
export type JobPageServer = ListeningHttp;

const TEXT = { 'Content-Type': 'text/plain; charset=utf-8' };

/** Serves `source`'s pages on host:port (port 0 picks one); rejects with IO naming the address. */
export function serveJobPages(
  source: JobPageSource,
  options: { readonly host: string; readonly port: number },
): Promise<JobPageServer> {
  const server = createServer((req, res) => {
    respond(source, req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy();
      else res.writeHead(500, TEXT).end(`the job page failed: ${String(err)}\n`);
    });
  });
  return listenHttp(server, options.host, options.port, 'job pages');
}

async function respond(source: JobPageSource, req: IncomingMessage, res: ServerResponse): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { ...TEXT, Allow: 'GET, HEAD' }).end();
    return;
  }
  const path = (req.url ?? '/').split('?')[0]!;
  if (path === '/') {
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(jobList(source));
    return;
  }
  const m = /^\/jobs\/([^/]+)(\/(status\.json|pictures\/([^/]+))?)?$/.exec(path);
  const id = m ? safeDecode(m[1]!) : null;
  const data = id === null ? null : source.pageData(id);
  if (!m || id === null || !data) {
    res.writeHead(404, TEXT).end('no such job page; the jobs are listed at /\n');
    return;
  }
  if (m[2] === undefined) {
    // Relative URLs on the page (status.json, pictures/) resolve under the job's own path.
    res.writeHead(301, { Location: `/jobs/${encodeURIComponent(id)}/` }).end();
    return;
  }
  if (m[3] === undefined) {
    const page = renderJobPage(data, { live: true, picturesBase: 'pictures/' });
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(page);
    return;
  }
  if (m[3] === 'status.json') {
    res
      .writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' })
      .end(JSON.stringify(data));
    return;
  }
  const name = safeDecode(m[4]!);
  const png = name !== null && PICTURE_NAME.test(name) ? await source.picture(id, name) : null;
  if (!png) {
    res.writeHead(404, TEXT).end('no such picture\n');
    return;
  }
  res.writeHead(200, { 'Content-Type': 'image/png', 'Content-Length': png.length }).end(png);
}

function safeDecode(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

function jobList(source: JobPageSource): string {
  const rows = [...source.jobList()]
    .reverse()
    .map(
      (j) =>
        `<li><a href="/jobs/${encodeURIComponent(j.id)}/">${escapeHtml(j.id)}</a> ${escapeHtml(j.model)} <b>${escapeHtml(j.state)}</b></li>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Harmonium jobs</title>
<style>body { font: 14px/1.5 system-ui, sans-serif; margin: 1.5em; }</style></head>
<body><h1>Harmonium jobs</h1>
${rows ? `<ul>${rows}</ul>` : '<p>No jobs yet.</p>'}
</body></html>
`;
}
