/**
 * A real nats-server with JetStream for a test: on a free loopback port, its store in a temporary
 * directory that {@link NatsServer.stop} removes. It can be killed and started again on the same
 * port and store, as a NATS pod that restarts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from '@nats-io/transport-node';
import { freePort } from './free-port.js';

const NATS_SERVER = ['/usr/sbin/nats-server', '/usr/bin/nats-server'].find(existsSync) ?? 'nats-server';

/** Why NATS tests cannot run here, or false. CI installs nats-server: there they never skip. */
export const natsSkip: string | false =
  spawnSync(NATS_SERVER, ['--version']).status === 0 || process.env['CI']
    ? false
    : 'nats-server is not installed (apt-get install nats-server)';

export class NatsServer {
  private child: ChildProcess | null = null;

  private constructor(
    readonly port: number,
    readonly storeDir: string,
    /** Further nats-server arguments (credentials, TLS, a config file). */
    private readonly args: readonly string[],
    /** How the readiness probe connects (a server that asks for credentials). */
    private readonly probe: Partial<ConnectionOptions>,
  ) {}

  get url(): string {
    return `nats://127.0.0.1:${this.port}`;
  }

  /**
   * Starts a server with JetStream (and `args`) and waits until it takes connections, probing with
   * `probe` options.
   */
  static async start(
    opts: { args?: readonly string[]; probe?: Partial<ConnectionOptions> } = {},
  ): Promise<NatsServer> {
    const server = new NatsServer(
      await freePort(),
      mkdtempSync(join(tmpdir(), 'harmonium-nats-')),
      opts.args ?? [],
      opts.probe ?? {},
    );
    await server.restart();
    return server;
  }

  /** Starts the server (again) on the same port and store. */
  async restart(): Promise<void> {
    this.child = spawn(
      NATS_SERVER,
      ['-js', '-a', '127.0.0.1', '-p', String(this.port), '-sd', this.storeDir, ...this.args],
      {
        stdio: 'ignore',
      },
    );
    const end = Date.now() + 10_000;
    for (;;) {
      try {
        const nc = await connect({ ...this.probe, servers: this.url, timeout: 500 });
        await nc.close();
        return;
      } catch (err) {
        if (Date.now() > end) throw err;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  /** Kills the server (SIGKILL); its store stays for {@link restart}. */
  async kill(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((r) => c.once('exit', () => r()));
    c.kill('SIGKILL');
    await exited;
  }

  /** Kills the server and removes its store. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.storeDir, { recursive: true, force: true });
  }
}
