/**
 * The security flags every command shares: `--tls-dir`, `--token-file`, `--insecure` (and for
 * those that reach NATS, `--nats-creds`, `--nats-tls-dir`), declared once here.
 */
import type { Command } from 'commander';
import { ConfigError } from '../core/errors.js';
import type { CredentialFlags } from '../core/security/credential-options.js';

/** Adds the credential options to `cmd` (`server`: a process others connect to). */
export function withCredentialOptions(cmd: Command, server: boolean): Command {
  return cmd
    .option('--tls-dir <dir>', 'mutual TLS with ca.crt, tls.crt, tls.key from DIR ($HARMONIUM_TLS_DIR)')
    .option(
      '--token-file <file>',
      'the cluster token ($HARMONIUM_TOKEN_FILE, or $HARMONIUM_TOKEN itself; default: DIR/token)',
    )
    .option(
      '--insecure',
      server ? 'serve plaintext without a token: on a trusted network only' : 'plaintext, no TLS dir',
    );
}

/** Adds the NATS credential options. */
export function withNatsOptions(cmd: Command): Command {
  return cmd
    .option(
      '--nats-creds <file>',
      'NATS credentials: a .creds file, an nkey seed, or one line user:password ($HARMONIUM_NATS_CREDS)',
    )
    .option(
      '--nats-tls-dir <dir>',
      'TLS to NATS: DIR/ca.crt, and tls.crt + tls.key for a client certificate ($HARMONIUM_NATS_TLS_DIR)',
    );
}

/** The credential flags among commander's parsed options. */
export function credentialFlags(opts: {
  tlsDir?: string;
  tokenFile?: string;
  insecure?: boolean;
}): CredentialFlags {
  return { tlsDir: opts.tlsDir, tokenFile: opts.tokenFile, insecure: opts.insecure === true };
}

/** Takes the credential flags out of a word list (the commands that pass the rest on as job options). */
export function takeCredentialFlags(args: readonly string[]): { flags: CredentialFlags; rest: string[] } {
  const rest: string[] = [];
  let tlsDir: string | undefined;
  let tokenFile: string | undefined;
  let insecure = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const [name, inline] =
      a.startsWith('--') && a.includes('=')
        ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)]
        : [a, undefined];
    if (name === '--insecure') {
      insecure = true;
    } else if (name === '--tls-dir' || name === '--token-file') {
      const value = inline ?? args[++i];
      if (value === undefined || value === '' || value.startsWith('--')) {
        throw new ConfigError(name.slice(2), 'needs a path');
      }
      if (name === '--tls-dir') tlsDir = value;
      else tokenFile = value;
    } else {
      rest.push(a);
    }
  }
  return { flags: { tlsDir, tokenFile, insecure }, rest };
}
