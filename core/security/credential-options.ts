/**
 * Where a process finds its credentials: `--tls-dir` / HARMONIUM_TLS_DIR, then the token from
 * `--token-file`, HARMONIUM_TOKEN_FILE, HARMONIUM_TOKEN (the value itself) or the TLS directory's
 * `token` file, in that order.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import { checkToken, readToken } from './bearer-token.js';
import { ClusterCredentials } from './cluster-credentials.js';
import { readTlsDir, TOKEN_FILE } from './tls-dir.js';

/** The credential flags of a command. */
export interface CredentialFlags {
  readonly tlsDir?: string | undefined;
  readonly tokenFile?: string | undefined;
  /** Plaintext on purpose. */
  readonly insecure?: boolean | undefined;
}

/**
 * The credentials `flags` and `env` name. A server (`role` 'server': coordinator, worker) without
 * a TLS directory must be told `--insecure`; a client goes plaintext when it has none. A token
 * without TLS is warned about.
 */
export function resolveCredentials(
  flags: CredentialFlags,
  role: 'server' | 'client',
  env: NodeJS.ProcessEnv = process.env,
  warn: (line: string) => void = (line) => console.error(`harmonium: warning: ${line}`),
): ClusterCredentials {
  const tlsDir = flags.tlsDir ?? nonEmpty(env['HARMONIUM_TLS_DIR']);
  if (flags.insecure && tlsDir !== undefined) {
    throw new ConfigError('insecure', 'contradicts --tls-dir (or HARMONIUM_TLS_DIR); give one of them');
  }
  if (tlsDir === undefined && role === 'server' && !flags.insecure) {
    throw new ConfigError(
      'tls-dir',
      'required: a directory with ca.crt, tls.crt and tls.key (`harmonium certs create DIR`), or ' +
        '--insecure for plaintext on a trusted network',
    );
  }
  const tls = tlsDir === undefined ? null : readTlsDir(tlsDir);
  const tokenFile = flags.tokenFile ?? nonEmpty(env['HARMONIUM_TOKEN_FILE']);
  const tokenValue = nonEmpty(env['HARMONIUM_TOKEN']);
  let token: string | null = null;
  if (tokenFile !== undefined) token = readToken(tokenFile);
  else if (tokenValue !== undefined) token = checkToken(tokenValue, 'HARMONIUM_TOKEN');
  else if (tlsDir !== undefined && existsSync(join(tlsDir, TOKEN_FILE))) {
    token = readToken(join(tlsDir, TOKEN_FILE), 'tls-dir');
  }
  if (token !== null && tls === null) {
    warn('the cluster token travels in plaintext without --tls-dir: anyone on the path can read it');
  }
  return ClusterCredentials.of(tls, token);
}

function nonEmpty(v: string | undefined): string | undefined {
  return v === undefined || v === '' ? undefined : v;
}
