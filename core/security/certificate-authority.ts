/**
 * `harmonium certs create`: a development CA and one node certificate for server and client use,
 * made by the openssl command line (no hand-written ASN.1), plus a random token, in the file names
 * of a Kubernetes TLS secret: ca.crt, tls.crt, tls.key, token (and ca.key, which stays with whoever
 * issues certificates and goes into no secret). A directory that already holds a CA keeps it and
 * its token, so that certificates issued again for more hosts still trust each other.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { ConfigError, HarmoniumError } from '../errors.js';
import { newToken } from './bearer-token.js';
import { CLUSTER_NAME } from './cluster-credentials.js';
import { CA_FILE, CERT_FILE, KEY_FILE, TOKEN_FILE } from './tls-dir.js';

export const CA_KEY_FILE = 'ca.key';
/** How long openssl may take for one step: key generation on a slow machine takes milliseconds. */
const OPENSSL_TIMEOUT_MS = 30_000;
/** A DNS name or wildcard, nothing that could break out of an openssl extension line. */
const DNS_NAME = /^(\*\.)?[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$/;

/** Options of {@link createCertificates}. */
export interface CertificateOptions {
  /** Host names and IP addresses the node certificate is valid for (besides harmonium, localhost, 127.0.0.1, ::1). */
  readonly hosts?: readonly string[];
  /** Validity of the node certificate in days; default 365 (the CA: ten years). */
  readonly days?: number;
}

function openssl(args: readonly string[], cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile('openssl', args, { cwd, timeout: OPENSSL_TIMEOUT_MS }, (err, _stdout, stderr) => {
      if (err === null) resolve();
      else
        reject(
          new HarmoniumError(
            'IO',
            `openssl ${args[0]} failed in ${cwd}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'openssl is not installed (apt-get install openssl; or run a local job with --insecure)' : stderr.trim() || err.message}`,
            { cause: err },
          ),
        );
    });
  });
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The subjectAltName value for `hosts` plus the names every node certificate carries. */
export function subjectAltNames(hosts: readonly string[]): string {
  const names = new Set([`DNS:${CLUSTER_NAME}`, 'DNS:localhost', 'IP:127.0.0.1', 'IP:::1']);
  for (const raw of hosts) {
    const h = raw.trim();
    if (h === '') continue;
    if (isIP(h) !== 0) names.add(`IP:${h}`);
    else if (DNS_NAME.test(h) && h.length <= 253) names.add(`DNS:${h}`);
    else throw new ConfigError('hosts', `${JSON.stringify(h)} is neither a host name nor an IP address`);
  }
  return [...names].join(',');
}

/**
 * Writes the CA (unless `dir` has one), a node certificate and key, and a token (unless `dir` has
 * one) into `dir`; keys and token are readable by their owner only. Resolves with the paths.
 */
export async function createCertificates(
  dir: string,
  opts: CertificateOptions = {},
): Promise<{ dir: string; files: string[]; reusedCa: boolean }> {
  const days = opts.days ?? 365;
  if (!Number.isInteger(days) || days < 1 || days > 3650) {
    throw new ConfigError('days', `must be an integer in [1, 3650], got ${days}`);
  }
  const san = subjectAltNames(opts.hosts ?? []);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const reusedCa = (await exists(join(dir, CA_FILE))) && (await exists(join(dir, CA_KEY_FILE)));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  if (!reusedCa) {
    await openssl(
      [
        'req',
        '-x509',
        ...ec,
        '-keyout',
        CA_KEY_FILE,
        '-out',
        CA_FILE,
        '-days',
        '3650',
        '-subj',
        '/O=Harmonium/CN=Harmonium development CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE,pathlen:0',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ],
      dir,
    );
  }
  const ext = 'node.ext';
  const csr = 'node.csr';
  await writeFile(
    join(dir, ext),
    [
      'basicConstraints=critical,CA:FALSE',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      `subjectAltName=${san}`,
      '',
    ].join('\n'),
  );
  try {
    await openssl(
      ['req', ...ec, '-keyout', KEY_FILE, '-out', csr, '-subj', `/O=Harmonium/CN=${CLUSTER_NAME}`],
      dir,
    );
    await openssl(
      [
        'x509',
        '-req',
        '-in',
        csr,
        '-CA',
        CA_FILE,
        '-CAkey',
        CA_KEY_FILE,
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        String(days),
        '-sha256',
        '-extfile',
        ext,
        '-out',
        CERT_FILE,
      ],
      dir,
    );
  } finally {
    await rm(join(dir, ext), { force: true });
    await rm(join(dir, csr), { force: true });
  }
  if (!(await exists(join(dir, TOKEN_FILE)))) {
    await writeFile(join(dir, TOKEN_FILE), `${newToken()}\n`, { mode: 0o600 });
  }
  for (const f of [CA_KEY_FILE, KEY_FILE, TOKEN_FILE]) await chmod(join(dir, f), 0o600);
  return { dir, files: [CA_FILE, CA_KEY_FILE, CERT_FILE, KEY_FILE, TOKEN_FILE], reusedCa };
}
