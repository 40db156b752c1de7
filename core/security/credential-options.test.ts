/**
 * Where a process finds its credentials: flags before the environment, the token from a file, the
 * environment or the TLS directory in that order, a server refusing to go plaintext unless told,
 * and a token that would travel in plaintext warned about.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '../errors.js';
import { createCertificates } from './certificate-authority.js';
import { resolveCredentials } from './credential-options.js';

const tmp = mkdtempSync(join(tmpdir(), 'harmonium-credentials-'));
const dir = join(tmp, 'tls');
const fileToken = 'f'.repeat(30);
const envToken = 'e'.repeat(30);

describe('resolveCredentials', () => {
  before(async () => {
    await createCertificates(dir);
    writeFileSync(join(tmp, 'token'), `${fileToken}\n`);
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  const field = (name: string) => (err: unknown) => err instanceof ConfigError && err.field === name;

  it('a server needs a TLS directory or --insecure, not both', () => {
    assert.throws(() => resolveCredentials({}, 'server', {}), field('tls-dir'));
    assert.equal(resolveCredentials({ insecure: true }, 'server', {}).tls, null);
    assert.throws(() => resolveCredentials({ insecure: true, tlsDir: dir }, 'server', {}), field('insecure'));
    assert.throws(
      () => resolveCredentials({ insecure: true }, 'server', { HARMONIUM_TLS_DIR: dir }),
      field('insecure'),
    );
    assert.equal(resolveCredentials({}, 'client', {}).tls, null, 'a client goes plaintext');
  });

  it('takes the token from --token-file, then HARMONIUM_TOKEN_FILE, HARMONIUM_TOKEN, then DIR/token', () => {
    const dirToken = resolveCredentials({ tlsDir: dir }, 'server', {}).token;
    assert.ok(dirToken !== null && dirToken.length >= 22);
    const env = { HARMONIUM_TLS_DIR: dir, HARMONIUM_TOKEN: envToken };
    assert.equal(resolveCredentials({}, 'server', env).token, envToken);
    assert.equal(
      resolveCredentials({}, 'server', { ...env, HARMONIUM_TOKEN_FILE: join(tmp, 'token') }).token,
      fileToken,
    );
    assert.equal(resolveCredentials({ tokenFile: join(tmp, 'token') }, 'server', env).token, fileToken);
    assert.throws(
      () => resolveCredentials({ tlsDir: dir }, 'server', { HARMONIUM_TOKEN: 'short' }),
      field('HARMONIUM_TOKEN'),
    );
    assert.throws(() => resolveCredentials({ tlsDir: join(tmp, 'none') }, 'server', {}), field('tls-dir'));
  });

  it('warns when the token would travel in plaintext', () => {
    const warnings: string[] = [];
    const warn = (l: string): number => warnings.push(l);
    resolveCredentials({}, 'client', { HARMONIUM_TOKEN: envToken }, warn);
    assert.match(warnings.join('\n'), /token travels in plaintext/);
    warnings.length = 0;
    resolveCredentials({ tlsDir: dir }, 'client', { HARMONIUM_TOKEN: envToken }, warn);
    assert.deepEqual(warnings, []);
  });
});
