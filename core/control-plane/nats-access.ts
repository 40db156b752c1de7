/**
 * How a process reaches NATS: the servers, and the credentials and TLS of a NATS that asks for
 * them. `--nats-creds FILE` is a NATS `.creds` file (user JWT and nkey seed), an nkey seed file
 * (`SU...`), or one line `user:password`; `--nats-tls-dir DIR` holds `ca.crt` (the server's CA)
 * and, for a server that verifies clients, `tls.crt` and `tls.key`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  credsAuthenticator,
  nkeyAuthenticator,
  usernamePasswordAuthenticator,
  type ConnectionOptions,
} from '@nats-io/transport-node';
import { ConfigError } from '../errors.js';

/** Where NATS is and how to log in to it. */
export interface NatsAccess {
  /** Comma-separated server URLs. */
  readonly servers: string;
  /** Credentials file; absent: none. */
  readonly credsFile?: string;
  /** TLS directory; absent: TLS only where a server URL says tls://. */
  readonly tlsDir?: string;
}

/** No credentials file of any kind is near this size. */
const MAX_CREDS_BYTES = 64 * 1024;

/** `access` given as servers alone, or as it is. */
export function natsAccess(access: string | NatsAccess): NatsAccess {
  return typeof access === 'string' ? { servers: access } : access;
}

/** The access that flags and environment name: HARMONIUM_NATS_CREDS and HARMONIUM_NATS_TLS_DIR when no flag is given. */
export function natsAccessFrom(
  servers: string,
  flags: { natsCreds?: string | undefined; natsTlsDir?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): NatsAccess {
  const credsFile = flags.natsCreds || env['HARMONIUM_NATS_CREDS'] || undefined;
  const tlsDir = flags.natsTlsDir || env['HARMONIUM_NATS_TLS_DIR'] || undefined;
  return { servers, ...(credsFile ? { credsFile } : {}), ...(tlsDir ? { tlsDir } : {}) };
}

function authenticator(path: string): NonNullable<ConnectionOptions['authenticator']> {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new ConfigError('nats-creds', `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (data.length > MAX_CREDS_BYTES) throw new ConfigError('nats-creds', `${path} is larger than 64 KiB`);
  const text = data.toString('utf8');
  if (text.includes('-----BEGIN NATS USER JWT-----')) return credsAuthenticator(new Uint8Array(data));
  const line = text.trim();
  if (/^SU[A-Z2-7]{56}$/.test(line)) return nkeyAuthenticator(new TextEncoder().encode(line));
  const colon = line.indexOf(':');
  if (colon > 0 && !line.includes('\n')) {
    return usernamePasswordAuthenticator(line.slice(0, colon), line.slice(colon + 1));
  }
  throw new ConfigError(
    'nats-creds',
    `${path} is neither a NATS .creds file, an nkey seed (SU...), nor one line user:password`,
  );
}

function tlsOptions(dir: string): NonNullable<ConnectionOptions['tls']> {
  const file = (name: string): string => join(dir, name);
  if (!existsSync(file('ca.crt'))) throw new ConfigError('nats-tls-dir', `${file('ca.crt')} is missing`);
  const hasCert = existsSync(file('tls.crt'));
  if (hasCert !== existsSync(file('tls.key'))) {
    throw new ConfigError('nats-tls-dir', `${dir} needs both tls.crt and tls.key, or neither`);
  }
  return {
    caFile: file('ca.crt'),
    ...(hasCert ? { certFile: file('tls.crt'), keyFile: file('tls.key') } : {}),
  };
}

/** The connection options of `access` (credentials and TLS read now, so a bad file fails at start). */
export function natsConnectionOptions(access: NatsAccess): Partial<ConnectionOptions> {
  return {
    servers: access.servers.split(','),
    ...(access.credsFile ? { authenticator: authenticator(access.credsFile) } : {}),
    ...(access.tlsDir ? { tls: tlsOptions(access.tlsDir) } : {}),
  };
}
