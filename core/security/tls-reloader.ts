/**
 * A TLS directory read again while the process runs, so that certificates renewed in place (by
 * cert-manager, into a mounted Kubernetes secret) are used for new connections without a restart.
 * Each read is checked as at start (readTlsDir): a directory caught half-written, or renewed with a
 * key that does not match, is reported and the certificates in use stay. Connections already open
 * keep the certificates of their handshake.
 */
import type { experimental } from '@grpc/grpc-js';
import { readTlsDir, type TlsMaterial } from './tls-dir.js';

type Provider = experimental.CertificateProvider;
type CaListener = experimental.CaCertificateUpdateListener;
type IdentityListener = experimental.IdentityCertificateUpdateListener;

/** How often a TLS directory is read again; HARMONIUM_TLS_RELOAD_MS overrides it. */
export const DEFAULT_RELOAD_MS = 60_000;

export class TlsReloader implements Provider {
  private current: TlsMaterial;
  private readonly caListeners = new Set<CaListener>();
  private readonly identityListeners = new Set<IdentityListener>();
  private timer: NodeJS.Timeout | null = null;
  private lastProblem = '';

  constructor(
    initial: TlsMaterial,
    private readonly reloadMs: number,
    private readonly warn: (line: string) => void,
  ) {
    this.current = initial;
  }

  /** The material in use now. */
  get material(): TlsMaterial {
    return this.current;
  }

  /** Reads the directory again; listeners hear of it when something changed. */
  reload(): void {
    let next: TlsMaterial;
    try {
      next = readTlsDir(this.current.dir);
    } catch (err) {
      const problem = (err as Error).message;
      // Once per distinct problem: a secret left broken must not fill the log every minute.
      if (problem !== this.lastProblem) this.warn(`TLS reload: ${problem}; the certificates in use stay`);
      this.lastProblem = problem;
      return;
    }
    this.lastProblem = '';
    const c = this.current;
    if (next.ca.equals(c.ca) && next.cert.equals(c.cert) && next.key.equals(c.key)) return;
    this.current = next;
    this.warn(`TLS reload: new certificates from ${next.dir} for new connections`);
    for (const l of this.caListeners) l({ caCertificate: next.ca });
    for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
  }

  addCaCertificateListener(listener: CaListener): void {
    this.caListeners.add(listener);
    process.nextTick(listener, { caCertificate: this.current.ca });
    this.watch();
  }

  removeCaCertificateListener(listener: CaListener): void {
    this.caListeners.delete(listener);
    this.unwatch();
  }

  addIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.add(listener);
    process.nextTick(listener, { certificate: this.current.cert, privateKey: this.current.key });
    this.watch();
  }

  removeIdentityCertificateListener(listener: IdentityListener): void {
    this.identityListeners.delete(listener);
    this.unwatch();
  }

  private watch(): void {
    if (this.timer !== null) return;
    this.timer = setInterval(() => this.reload(), this.reloadMs);
    // Reading certificates is no reason for a process to stay alive.
    this.timer.unref();
  }

  private unwatch(): void {
    if (this.caListeners.size > 0 || this.identityListeners.size > 0 || this.timer === null) return;
    clearInterval(this.timer);
    this.timer = null;
  }
}
