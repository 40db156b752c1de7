/**
 * A worker's collective endpoint: the gRPC server its peers link to, started once per process
 * before rendezvous (its address goes to the coordinator), and the place it joins each generation
 * of its process group from.
 *
 *   const endpoint = await CollectiveEndpoint.listen({ host: '0.0.0.0', port: 0, advertisedHost });
 *   // ... rendezvous: publish endpoint.address, learn every rank's address ...
 *   const group = await endpoint.join({ jobId, generation, rank, peers, timeoutMs: 30_000 });
 *
 * A peer may reach this endpoint before this process has joined the same group: its Link call is
 * held until the join comes, for at most the peer's own join timeout (capped at an hour), and at
 * most 64 such calls at once, 8 per job. Calls for a job this process was told to expect (its
 * Assignment arrived) are kept first: when the room is full, the oldest call of a job nobody
 * expects makes way, so callers that invent job ids cannot starve real peers. A held call's link
 * secret is checked when the call is attached, and the call refused then if it is the wrong one.
 *
 * Throughput: every segment passes through buffers grpc-js allocates, and that external memory
 * makes V8 start concurrent marking every call or two of a large allreduce. Where the rank
 * processes already keep every core busy (2-core machines) the marking threads slow the ranks down
 * 1.5-2x; start such worker processes with `node --single-threaded-gc` (bench/allreduce.ts).
 */
import { Server, status, type ChannelCredentials } from '@grpc/grpc-js';
import { HarmoniumError } from '../errors.js';
import { ClusterCredentials } from '../security/cluster-credentials.js';
import { CollectiveError } from './collective-error.js';
import { COLLECTIVE_SERVICE, SERVER_OPTIONS } from './grpc-link-service.js';
import { GrpcRingLinks, type OutboundCall } from './grpc-ring-links.js';
import { createMemoryProcessGroups } from './memory-process-group.js';
import type { ProcessGroup } from './process-group.js';
import { RingProcessGroup } from './ring-process-group.js';
import { DEFAULT_SEGMENT_BYTES, MAX_SEGMENT_BYTES } from './segment-layout.js';
import type { LinkHello, LinkMessage } from './wire-format.js';

export interface ListenOptions {
  /** Interface to bind, e.g. '127.0.0.1', '0.0.0.0' or '::'. */
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Host peers should dial when `host` is a wildcard (e.g. the pod IP); default `host`. */
  readonly advertisedHost?: string;
  /**
   * With TLS material: the endpoint admits only peers with a certificate from the same CA, and
   * links to peers the same way. Default plaintext.
   */
  readonly credentials?: ClusterCredentials;
}

export interface JoinOptions {
  readonly jobId: string;
  /** Rendezvous generation; a re-formed group uses a higher one. */
  readonly generation: number;
  readonly rank: number;
  /** Endpoint address of every rank of the group, index = rank (this rank's own included). */
  readonly peers: readonly string[];
  /** Deadline for linking with both ring neighbours. */
  readonly timeoutMs: number;
  /**
   * Bytes of float32 per message on the links (multiple of 4, at most 4 MiB); every rank must use
   * the same value. Default 1 MiB.
   */
  readonly segmentBytes?: number;
  /**
   * The generation's link secret (the coordinator's Assignment gives every member the same one): a
   * peer's Link call is taken only when its hello carries it. Default '' (none).
   */
  readonly linkSecret?: string;
}

/** How long a connected peer may take to send its hello. */
const HELLO_WAIT_MS = 10_000;
const MAX_HOLD_MS = 3_600_000;
const MAX_HELD_CALLS = 64;
/** How long a closing endpoint lets its calls finish delivering before it cancels them. */
const SHUTDOWN_GRACE_MS = 1_000;
/** An honest peer holds one early call per generation, and generations of a job follow each other. */
const MAX_HELD_PER_JOB = 8;
/** Jobs remembered as expected (a worker serves one job at a time; a few past ones are plenty). */
const MAX_EXPECTED_JOBS = 8;

interface HeldCall {
  readonly call: OutboundCall;
  readonly hello: LinkHello;
  readonly timer: NodeJS.Timeout;
}

function groupKey(jobId: string, generation: number): string {
  return `${generation}/${jobId}`;
}

function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Ends a Link call with an error status the peer maps to a CollectiveError. */
function refuse(call: OutboundCall, code: status, details: string): void {
  call.emit('error', Object.assign(new Error(details), { code, details }));
}

function argumentError(message: string): CollectiveError {
  return new CollectiveError('COLLECTIVE_MISMATCH', message, { rebuild: false });
}

function checkJoinOptions(o: JoinOptions): void {
  if (typeof o.jobId !== 'string' || o.jobId === '')
    throw argumentError('join: jobId must be a non-empty string');
  if (!Number.isSafeInteger(o.generation) || o.generation < 0) {
    throw argumentError(`join: generation ${o.generation} is not a non-negative integer`);
  }
  if (!Array.isArray(o.peers) || o.peers.length === 0)
    throw argumentError('join: peers must list every rank');
  if (!Number.isInteger(o.rank) || o.rank < 0 || o.rank >= o.peers.length) {
    throw argumentError(`join: rank ${o.rank} is not a rank of a group of ${o.peers.length}`);
  }
  if (!(o.timeoutMs > 0) || !Number.isFinite(o.timeoutMs)) {
    throw argumentError(`join: timeoutMs ${o.timeoutMs} is not a positive number`);
  }
  const bytes = o.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
  if (!Number.isInteger(bytes) || bytes < 4 || bytes % 4 !== 0 || bytes > MAX_SEGMENT_BYTES) {
    throw argumentError(
      `join: segmentBytes ${bytes} is not a multiple of 4 between 4 and ${MAX_SEGMENT_BYTES}`,
    );
  }
}

export class CollectiveEndpoint {
  private readonly groups = new Map<string, GrpcRingLinks>();
  private readonly latestGeneration = new Map<string, number>();
  private readonly held = new Set<HeldCall>();
  private readonly expected: string[] = [];
  private closing: Promise<void> | null = null;

  private constructor(
    private readonly server: Server,
    /** "host:port" peers dial to reach this endpoint. */
    readonly address: string,
    private readonly credentials: ClusterCredentials,
    private readonly channel: ChannelCredentials,
  ) {}

  /** Starts the gRPC server; rejects with an IO error when the address cannot be bound. */
  static async listen(options: ListenOptions): Promise<CollectiveEndpoint> {
    const server = new Server(SERVER_OPTIONS);
    let endpoint: CollectiveEndpoint | null = null;
    server.addService(COLLECTIVE_SERVICE, {
      // Calls only arrive once the port is bound, after `endpoint` is set below.
      link: (call: OutboundCall) => endpoint!.accept(call),
    });
    const where = hostPort(options.host, options.port);
    const credentials = options.credentials ?? ClusterCredentials.INSECURE;
    const port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(where, credentials.serverCredentials(), (err, bound) => {
        if (err === null) resolve(bound);
        else
          reject(
            new HarmoniumError('IO', `collective endpoint cannot listen on ${where}: ${err.message}`, {
              cause: err,
            }),
          );
      });
    });
    endpoint = new CollectiveEndpoint(
      server,
      hostPort(options.advertisedHost ?? options.host, port),
      credentials,
      credentials.channelCredentials(),
    );
    return endpoint;
  }

  /**
   * Joins rank `rank` of a group: links with both ring neighbours within `timeoutMs` (else
   * COLLECTIVE_TIMEOUT naming the neighbour that did not answer). World size 1 needs no network.
   */
  async join(options: JoinOptions): Promise<ProcessGroup> {
    checkJoinOptions(options);
    const { jobId, generation, rank, peers, timeoutMs } = options;
    const segmentElements = (options.segmentBytes ?? DEFAULT_SEGMENT_BYTES) / 4;
    if (this.closing !== null) {
      throw new CollectiveError('COLLECTIVE_CLOSED', `join: the endpoint at ${this.address} is closed`);
    }
    if (peers.length === 1) return createMemoryProcessGroups(1, { generation, segmentElements })[0]!;

    const key = groupKey(jobId, generation);
    if (this.groups.has(key)) {
      throw argumentError(`join: ${this.address} already joined job ${jobId} generation ${generation}`);
    }
    const links: GrpcRingLinks = new GrpcRingLinks({
      jobId,
      generation,
      rank,
      peers: [...peers],
      secret: options.linkSecret ?? '',
      credentials: this.channel,
      dialOptions: this.credentials.channelOptions(peers[(rank - 1 + peers.length) % peers.length]!),
      segmentBytes: segmentElements * 4,
      onClosed: () => {
        if (this.groups.get(key) === links) this.groups.delete(key);
      },
    });
    this.groups.set(key, links);
    if (generation > (this.latestGeneration.get(jobId) ?? -1)) this.latestGeneration.set(jobId, generation);
    for (const h of [...this.held]) {
      if (h.hello.jobId !== jobId || h.hello.generation > generation) continue;
      this.release(h);
      if (h.hello.generation < generation)
        refuse(h.call, status.FAILED_PRECONDITION, this.staleMessage(h.hello));
      else this.attach(links, h.call, h.hello);
    }
    try {
      await links.connect(timeoutMs);
    } catch (e) {
      // Not awaited: saying goodbye to a neighbour that did link may take a moment, and the join
      // must fail at its deadline.
      void links.close();
      throw e;
    }
    return new RingProcessGroup(links, { generation, segmentElements });
  }

  /**
   * Says that this process is about to join a group of `jobId` (its Assignment came): early calls
   * of that job are held before those of jobs nobody expects.
   */
  expect(jobId: string): void {
    if (this.expected.includes(jobId)) return;
    this.expected.push(jobId);
    if (this.expected.length > MAX_EXPECTED_JOBS) this.expected.shift();
  }

  /** Closes every group joined here (their pending calls fail with COLLECTIVE_CLOSED) and the server. */
  close(): Promise<void> {
    if (this.closing === null) this.closing = this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    for (const h of [...this.held]) {
      this.release(h);
      refuse(h.call, status.UNAVAILABLE, `the endpoint at ${this.address} is closing`);
    }
    await Promise.all(
      [...this.groups.values()].map((links) => {
        links.fail(new CollectiveError('COLLECTIVE_CLOSED', `the endpoint at ${this.address} was closed`));
        return links.close();
      }),
    );
    // A closed group's last segments and goodbye may still be on their way to its successor:
    // forcing the server down at once cancelled them (its neighbour's final allreduce failed
    // with CANCELLED). Let the calls end as their peers read them, for at most a grace period.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.server.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      timer.unref();
      this.server.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private accept(call: OutboundCall): void {
    if (this.closing !== null) {
      refuse(call, status.UNAVAILABLE, `the endpoint at ${this.address} is closing`);
      return;
    }
    const timer = setTimeout(
      () => refuse(call, status.INVALID_ARGUMENT, `no LinkHello within ${HELLO_WAIT_MS} ms`),
      HELLO_WAIT_MS,
    );
    call.once('cancelled', () => clearTimeout(timer));
    call.once('data', (m: LinkMessage) => {
      clearTimeout(timer);
      // Hold further messages until the links take the call over and resume it.
      call.pause();
      if (m.type === 'hello') this.route(call, m.hello);
      else
        refuse(
          call,
          status.INVALID_ARGUMENT,
          `the first message of a Link call must be a hello, not a ${m.type}`,
        );
    });
  }

  private route(call: OutboundCall, hello: LinkHello): void {
    const links = this.groups.get(groupKey(hello.jobId, hello.generation));
    if (links !== undefined) {
      this.attach(links, call, hello);
      return;
    }
    const latest = this.latestGeneration.get(hello.jobId);
    if (latest !== undefined && hello.generation < latest) {
      refuse(call, status.FAILED_PRECONDITION, this.staleMessage(hello));
      return;
    }
    const ofJob = [...this.held].filter((h) => h.hello.jobId === hello.jobId).length;
    if (ofJob >= MAX_HELD_PER_JOB) {
      refuse(
        call,
        status.RESOURCE_EXHAUSTED,
        `${this.address} already holds ${MAX_HELD_PER_JOB} early Link calls of job ${hello.jobId}`,
      );
      return;
    }
    if (this.held.size >= MAX_HELD_CALLS) {
      // A Set iterates in arrival order: the first unexpected call found is the oldest.
      const victim = this.expected.includes(hello.jobId)
        ? [...this.held].find((h) => !this.expected.includes(h.hello.jobId))
        : undefined;
      if (victim === undefined) {
        refuse(
          call,
          status.RESOURCE_EXHAUSTED,
          `${this.address} already holds ${MAX_HELD_CALLS} early Link calls`,
        );
        return;
      }
      this.release(victim);
      refuse(victim.call, status.RESOURCE_EXHAUSTED, `${this.address} needs the room for an expected job`);
    }
    const waitMs = Math.min(hello.waitMs, MAX_HOLD_MS);
    const held: HeldCall = {
      call,
      hello,
      timer: setTimeout(() => {
        this.held.delete(held);
        refuse(
          call,
          status.DEADLINE_EXCEEDED,
          `rank ${hello.receiverRank} at ${this.address} did not join job ${hello.jobId} generation ` +
            `${hello.generation} within ${waitMs} ms`,
        );
      }, waitMs),
    };
    this.held.add(held);
    call.once('cancelled', () => this.release(held));
  }

  private attach(links: GrpcRingLinks, call: OutboundCall, hello: LinkHello): void {
    if (!links.admits(hello)) {
      // Nothing more to a caller that is no member of the generation.
      refuse(call, status.PERMISSION_DENIED, `the hello does not carry this generation's link secret`);
      return;
    }
    const problem = links.attachOutbound(call, hello);
    if (problem !== null) refuse(call, status.FAILED_PRECONDITION, problem);
  }

  private release(h: HeldCall): void {
    clearTimeout(h.timer);
    this.held.delete(h);
  }

  private staleMessage(hello: LinkHello): string {
    return (
      `${this.address} has moved on to generation ${this.latestGeneration.get(hello.jobId)} of job ` +
      `${hello.jobId}; generation ${hello.generation} is over`
    );
  }
}
