/**
 * The bearer token clients and workers show the coordinator (`authorization: Bearer <token>`
 * metadata): read from a file or the environment, compared in constant time.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError } from '../errors.js';

export const AUTHORIZATION_KEY = 'authorization';
/** Long enough for any token a secret store hands out, short enough for one metadata entry. */
const MAX_TOKEN_CHARS = 4096;
/** A token must not be guessable: at least 128 bits written as base64. */
const MIN_TOKEN_CHARS = 22;

/** A fresh token: 32 random bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** `value` checked as a token (printable ASCII without spaces, 22-4096 characters). */
export function checkToken(value: string, field: string): string {
  const token = value.trim();
  if (token.length < MIN_TOKEN_CHARS || token.length > MAX_TOKEN_CHARS) {
    throw new ConfigError(
      field,
      `a token has ${MIN_TOKEN_CHARS}-${MAX_TOKEN_CHARS} characters, this one ${token.length}`,
    );
  }
  if (!/^[\x21-\x7e]+$/.test(token)) {
    throw new ConfigError(field, 'a token is printable ASCII without spaces');
  }
  return token;
}

/** The token in file `path` (surrounding whitespace ignored). */
export function readToken(path: string, field = 'token-file'): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(field, `cannot read ${path}: ${(err as Error).message}`, { cause: err });
  }
  return checkToken(text, `${field} (${path})`);
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();

/** Whether two secrets are equal, in time that says nothing about where they differ. */
export function sameSecret(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

/** Whether an `authorization` metadata value is `Bearer <token>` (in constant time). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  return sameSecret(header?.startsWith('Bearer ') ? header.slice(7) : '', token);
}
