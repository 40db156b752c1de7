/**
 * Test support: serves a registry on 127.0.0.1, scrapes `/metrics` once over real HTTP as
 * Prometheus would, and parses the text exposition so tests can look samples up by name and labels.
 */
import type { Registry } from 'prom-client';
import { serveMetrics } from './metrics-server.js';

/** One scrape's answer. */
export interface Scrape {
  readonly contentType: string;
  readonly text: string;
  /** The value of the first sample named `name` whose labels include `labels`; undefined if none. */
  value(name: string, labels?: Readonly<Record<string, string>>): number | undefined;
}

interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** Scrapes `registry` once through a metrics server of its own, closed before this resolves. */
export async function scrapeOnce(registry: Registry): Promise<Scrape> {
  const server = await serveMetrics(registry, { host: '127.0.0.1', port: 0 });
  try {
    const res = await fetch(`http://127.0.0.1:${server.port}/metrics`);
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}`);
    const text = await res.text();
    const samples = parseExposition(text);
    return {
      contentType: res.headers.get('content-type') ?? '',
      text,
      value: (name, labels = {}) =>
        samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
          ?.value,
    };
  } finally {
    await server.close();
  }
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL_PAIR = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = SAMPLE_LINE.exec(line);
    if (m === null) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const [, key, raw] of (m[2] ?? '').matchAll(LABEL_PAIR)) {
      labels[key!] = raw!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    }
    // Number() reads the exposition's NaN, +Inf and -Inf as well as plain numbers.
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}
