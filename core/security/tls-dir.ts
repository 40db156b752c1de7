/**
 * A TLS directory: the files a Kubernetes TLS secret, a cert-manager Certificate and
 * `harmonium certs create` all use: `ca.crt` (the CA every peer must be signed by), `tls.crt` and
 * `tls.key` (this process's certificate, for both server and client use), and optionally `token`.
 */
import { createPrivateKey as createKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';

/** The PEM files of a TLS directory, read and checked. */
export interface TlsMaterial {
  /** Where they were read from, for messages. */
  readonly dir: string;
  readonly ca: Buffer;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export const CA_FILE = 'ca.crt';
export const CERT_FILE = 'tls.crt';
export const KEY_FILE = 'tls.key';
export const TOKEN_FILE = 'token';
/** No PEM file of ours is near this size; a larger one is not what was meant. */
const MAX_PEM_BYTES = 1 << 20;

function readPem(dir: string, name: string, field: string): Buffer {
  const path = join(dir, name);
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    throw new ConfigError(field, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  if (data.length > MAX_PEM_BYTES) throw new ConfigError(field, `${path} is larger than 1 MiB`);
  if (!data.includes('-----BEGIN ')) throw new ConfigError(field, `${path} is not a PEM file`);
  return data;
}

function certificate(pem: Buffer, path: string, field: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (err) {
    throw new ConfigError(field, `${path} is not an X.509 certificate: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

/**
 * Reads `dir`; ConfigError naming the file when one is missing, unreadable, expired, not signed by
 * the CA, or when the key does not belong to the certificate (so that a bad secret fails at start,
 * not at the first handshake).
 */
export function readTlsDir(dir: string, field = 'tls-dir'): TlsMaterial {
  const ca = readPem(dir, CA_FILE, field);
  const cert = readPem(dir, CERT_FILE, field);
  const key = readPem(dir, KEY_FILE, field);
  const caCert = certificate(ca, join(dir, CA_FILE), field);
  const own = certificate(cert, join(dir, CERT_FILE), field);
  const now = Date.now();
  if (Date.parse(own.validTo) < now || Date.parse(own.validFrom) > now) {
    throw new ConfigError(
      field,
      `${join(dir, CERT_FILE)} is valid only from ${own.validFrom} to ${own.validTo}`,
    );
  }
  if (!own.verify(caCert.publicKey)) {
    throw new ConfigError(field, `${join(dir, CERT_FILE)} is not signed by the CA of ${join(dir, CA_FILE)}`);
  }
  let matches: boolean;
  try {
    matches = own.checkPrivateKey(createKey(key));
  } catch (err) {
    throw new ConfigError(field, `${join(dir, KEY_FILE)} is not a private key: ${(err as Error).message}`, {
      cause: err,
    });
  }
  if (!matches) {
    throw new ConfigError(field, `${join(dir, KEY_FILE)} is not the key of ${join(dir, CERT_FILE)}`);
  }
  return { dir, ca, cert, key };
}
