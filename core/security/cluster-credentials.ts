/**
 * What a Harmonium process shows and checks on the network: its TLS material (mutual TLS on every
 * gRPC link when present) and the bearer token of the cluster. One value is built from the
 * command line (credential-options.ts) and handed to every server and client the process makes,
 * and to its control thread as plain data.
 *
 * Peers are verified against the CA, and by name against `harmonium`, a name every Harmonium
 * certificate carries (certs create adds it; a cert-manager Certificate lists it), rather than
 * against the address dialled: workers dial each other by pod IP, which no certificate can name
 * in advance. The CA is therefore the trust boundary: it must be Harmonium's own.
 *
 * The TLS directory is read again every minute (tls-reloader.ts): renewed certificates serve new
 * connections without a restart.
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { isIP } from 'node:net';
import {
  experimental,
  type ChannelCredentials,
  type ChannelOptions,
  type ServerCredentials,
} from '@grpc/grpc-js';
import { ServerCredentials as Server, credentials } from '@grpc/grpc-js';
import { DEFAULT_RELOAD_MS, TlsReloader } from './tls-reloader.js';
import type { TlsMaterial } from './tls-dir.js';

/** The name every Harmonium certificate carries as a DNS subject alternative name. */
export const CLUSTER_NAME = 'harmonium';

/** {@link ClusterCredentials} as structured-clone data (for worker threads). */
export interface CredentialsData {
  readonly tls: { dir: string; ca: string; cert: string; key: string } | null;
  readonly token: string | null;
}

/** Accepts a peer certificate naming `harmonium`, or else one valid for the host dialled. */
function checkPeerName(host: string, cert: PeerCertificate): Error | undefined {
  const names = (cert.subjectaltname ?? '').split(', ');
  if (names.includes(`DNS:${CLUSTER_NAME}`)) return undefined;
  return checkServerIdentity(host, cert);
}

function reloadMs(): number {
  const v = Number(process.env['HARMONIUM_TLS_RELOAD_MS']);
  return Number.isFinite(v) && v >= 100 ? v : DEFAULT_RELOAD_MS;
}

export class ClusterCredentials {
  /** No TLS and no token: plaintext, as on a trusted network only. */
  static readonly INSECURE = new ClusterCredentials(null, null);

  /** Every server and channel of this process takes its certificates from here. */
  private readonly reloader: TlsReloader | null;

  private constructor(
    tls: TlsMaterial | null,
    /** The token calls carry and the coordinator demands; null for none. */
    readonly token: string | null,
  ) {
    this.reloader =
      tls === null ? null : new TlsReloader(tls, reloadMs(), (line) => console.error(`harmonium: ${line}`));
  }

  /** The TLS material in use (the latest good read of the directory), null for plaintext. */
  get tls(): TlsMaterial | null {
    return this.reloader?.material ?? null;
  }

  static of(tls: TlsMaterial | null, token: string | null): ClusterCredentials {
    return tls === null && token === null ? ClusterCredentials.INSECURE : new ClusterCredentials(tls, token);
  }

  static fromData(d: CredentialsData): ClusterCredentials {
    const tls = d.tls
      ? {
          dir: d.tls.dir,
          ca: Buffer.from(d.tls.ca),
          cert: Buffer.from(d.tls.cert),
          key: Buffer.from(d.tls.key),
        }
      : null;
    return ClusterCredentials.of(tls, d.token);
  }

  toData(): CredentialsData {
    const t = this.tls;
    return {
      tls: t ? { dir: t.dir, ca: t.ca.toString(), cert: t.cert.toString(), key: t.key.toString() } : null,
      token: this.token,
    };
  }

  /** Server side: mutual TLS (a client without a certificate from the CA is refused), else plaintext. */
  serverCredentials(): ServerCredentials {
    const r = this.reloader;
    if (r === null) return Server.createInsecure();
    return experimental.createCertificateProviderServerCredentials(r, r, true);
  }

  /** Client side: this process's certificate, the server's checked against the CA. */
  channelCredentials(): ChannelCredentials {
    const r = this.reloader;
    if (r === null) return credentials.createInsecure();
    return experimental.createCertificateProviderChannelCredentials(r, r, {
      checkServerIdentity: checkPeerName,
    });
  }

  /**
   * Channel options for dialling `address` (host:port): with TLS and an IP address, the name the
   * server is checked against (and sent as SNI, which an IP address may not be) is `harmonium`.
   */
  channelOptions(address: string): ChannelOptions {
    if (this.tls === null) return {};
    const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return isIP(host) === 0 ? {} : { 'grpc.ssl_target_name_override': CLUSTER_NAME };
  }

  /** For log lines: how this process talks. */
  describe(): string {
    const tls = this.tls ? `mutual TLS (CA ${this.tls.dir}/ca.crt)` : 'plaintext';
    return `${tls}, ${this.token ? 'token required' : 'no token'}`;
  }
}
