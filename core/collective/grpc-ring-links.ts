/**
 * RingLinks over gRPC: the inbound link is this rank's Link call on its predecessor's endpoint (the
 * predecessor streams segments back to it), the outbound link is the Link call its successor made
 * on this rank's endpoint (this rank streams segments to it). Data thus always flows from server to
 * client, where grpc-js lets the receiver open a large HTTP/2 window.
 *
 * A neighbour that leaves (it closed its group, its group failed, or its stream broke) ends one
 * direction: what it sent before still counts, so a peer that finished its last call and closed
 * does not fail the call its neighbours are finishing, but a receive that would wait for it, or a
 * send to it, fails at once with COLLECTIVE_LINK naming the rank at fault. A group that fails on
 * such an error tells its own neighbours with a LinkAbort, so the failure goes round the ring in
 * milliseconds instead of each rank waiting for its deadline. Timeouts are not relayed: every rank
 * names the neighbour it was itself waiting on.
 */
import {
  Client,
  Metadata,
  status,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ServerDuplexStream,
  type ServiceError,
} from '@grpc/grpc-js';
import { sameSecret } from '../security/bearer-token.js';
import { BufferPool } from './buffer-pool.js';
import { CollectiveError } from './collective-error.js';
import { CLIENT_OPTIONS, LINK_METHOD_PATH } from './grpc-link-service.js';
import type { CallSignature, PendingWait, RingLinks } from './ring-links.js';
import { SegmentMailbox } from './segment-mailbox.js';
import {
  decodeLinkMessage,
  encodeAbort,
  encodeHello,
  encodeSegment,
  forwardSegment,
  type LinkAbort,
  type LinkHello,
  type LinkMessage,
  type SegmentOrigin,
} from './wire-format.js';

/** This rank as the client of its predecessor: it writes encoded messages, reads decoded ones. */
type InboundCall = ClientDuplexStream<Buffer, LinkMessage>;
/** The successor's call on this rank's server. */
export type OutboundCall = ServerDuplexStream<LinkMessage, Buffer>;

/** How long close() lets a neighbour acknowledge the end of a link before cancelling it. */
const CLOSE_GRACE_MS = 1_000;

/** Bytes beside a segment's payload in its message: ids, indices, padding (a long job id overflows to unpooled buffers). */
const SEGMENT_HEADER_ROOM = 512;
/**
 * Send buffers kept per link: about what one stream has queued before it reports backpressure
 * (16 messages, the object-mode high-water mark of grpc-js streams).
 */
const SEND_BUFFERS = 16;

const RESOLVED = Promise.resolve();
/** The original message carried by the LinkAbort an error was made from. */
const relayedCauses = new WeakMap<CollectiveError, string>();
const passBuffer = (b: Buffer): Buffer => b;

export interface GrpcRingLinksParams {
  readonly jobId: string;
  readonly generation: number;
  readonly rank: number;
  /** Endpoint address of every rank, index = rank. */
  readonly peers: readonly string[];
  /** The generation's link secret: both ends of a link show it in their hellos ('' for none). */
  readonly secret: string;
  /** How this rank dials its predecessor (TLS or plaintext, as the endpoint serves). */
  readonly credentials: ChannelCredentials;
  /** Channel options of that dial besides the links' own (the TLS name to check). */
  readonly dialOptions: ChannelOptions;
  /** Largest segment payload, to size the reusable send buffers. */
  readonly segmentBytes: number;
  /** Called once when the links are closed, so the endpoint forgets them. */
  readonly onClosed: () => void;
}

interface DrainWaiter {
  readonly tag: number;
  readonly step: number;
  readonly index: number;
  readonly resolve: () => void;
  readonly reject: (e: CollectiveError) => void;
}

export class GrpcRingLinks implements RingLinks {
  readonly rank: number;
  readonly worldSize: number;
  failure: CollectiveError | null = null;
  /** Why the predecessor sends no more, once it left. */
  private inboundGone: CollectiveError | null = null;
  /** Why the successor reads no more, once it left: sends fail with it. */
  private outboundGone: CollectiveError | null = null;
  private readonly prev: number;
  private readonly next: number;
  private readonly origin: SegmentOrigin;
  private readonly mailbox: SegmentMailbox;
  private client: Client | null = null;
  private inbound: InboundCall | null = null;
  private inboundReady = false;
  private inboundDone = false;
  private outbound: OutboundCall | null = null;
  private drainWaiters: DrainWaiter[] = [];
  private readonly sendBuffers: BufferPool;
  /** Wakes a pending connect() when a link comes up or goes. */
  private onLinkChange: (() => void) | null = null;
  private closed = false;
  private closing: Promise<void> | null = null;
  /**
   * What first made a neighbour leave, passed on when this rank's group fails in turn, so the
   * message round the ring stays the original one rather than growing by a clause per hop.
   */
  private rootCause: string | null = null;

  constructor(private readonly params: GrpcRingLinksParams) {
    this.rank = params.rank;
    this.worldSize = params.peers.length;
    this.prev = (this.rank - 1 + this.worldSize) % this.worldSize;
    this.next = (this.rank + 1) % this.worldSize;
    this.origin = { jobId: params.jobId, generation: params.generation, senderRank: params.rank };
    this.mailbox = new SegmentMailbox(this.prev, this.describe(this.prev));
    this.sendBuffers = new BufferPool(params.segmentBytes + SEGMENT_HEADER_ROOM, SEND_BUFFERS);
  }

  describe(rank: number): string {
    return `rank ${rank} (${this.params.peers[rank] ?? '?'})`;
  }

  /**
   * Opens the inbound link and waits until the successor has opened the outbound one; rejects with
   * COLLECTIVE_TIMEOUT naming the neighbour that did not answer within `timeoutMs`.
   */
  connect(timeoutMs: number): Promise<void> {
    this.openInbound(timeoutMs);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const what = this.inboundReady
          ? `${this.describe(this.next)}, which receives from this rank, did not connect`
          : `${this.describe(this.prev)}, which this rank receives from, did not answer`;
        this.fail(
          new CollectiveError(
            'COLLECTIVE_TIMEOUT',
            `join of job ${this.params.jobId} generation ${this.params.generation} on rank ${this.rank}: ` +
              `${what} within ${timeoutMs} ms`,
            { peer: this.inboundReady ? this.next : this.prev },
          ),
        );
      }, timeoutMs);
      this.onLinkChange = () => {
        const failure = this.failure ?? this.inboundGone ?? this.outboundGone;
        if (failure === null && !(this.inboundReady && this.outbound !== null)) return;
        clearTimeout(timer);
        this.onLinkChange = null;
        if (failure === null) {
          resolve();
        } else {
          this.fail(failure);
          reject(failure);
        }
      };
      this.onLinkChange();
    });
  }

  /**
   * Takes the successor's Link call (its hello already read). Returns why it was refused, or null.
   */
  attachOutbound(call: OutboundCall, hello: LinkHello): string | null {
    if (this.closed || this.failure !== null) {
      return `rank ${this.rank} has left job ${this.params.jobId} generation ${this.params.generation}`;
    }
    const problem = this.checkHello(hello, this.next);
    if (problem !== null) return problem;
    if (this.outbound !== null)
      return `rank ${this.rank} already has a link from ${this.describe(this.next)}`;
    this.outbound = call;
    call.on('data', (m: LinkMessage) => {
      if (m.type === 'abort') this.nextLeft(this.abortError(this.next, m.abort));
      else this.mismatch(this.next, `${this.describe(this.next)} sent a ${m.type} on its Link call`);
    });
    call.on('end', () => {
      // The successor half-closed: finish the call too. After its goodbye this changes nothing.
      if (!call.writableEnded) call.end();
      this.nextLeft(this.linkError(this.next, 'it ended the link without notice'));
    });
    call.on('cancelled', () => this.nextLeft(this.linkError(this.next, 'the call was cancelled')));
    call.on('error', (e: Error) => this.nextLeft(this.linkError(this.next, e.message, e)));
    call.on('drain', () => this.settleDrainWaiters(null));
    call.write(encodeHello({ ...this.helloBase(), receiverRank: this.next, waitMs: 0 }));
    call.resume();
    this.onLinkChange?.();
    return null;
  }

  send(call: CallSignature, step: number, index: number, payload: Float32Array): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.outboundGone !== null) return Promise.reject(this.outboundGone);
    const message =
      forwardSegment(this.origin, call, step, index, payload) ??
      encodeSegment(this.origin, call, step, index, payload, this.sendBuffers.take);
    // grpc-js copies the message into its own frame when it takes it from the stream's queue; the
    // write callback comes after that, so a pooled buffer can be reused.
    if (this.outbound!.write(message, () => this.sendBuffers.give(message))) return RESOLVED;
    return new Promise((resolve, reject) => {
      this.drainWaiters.push({ tag: call.tag, step, index, resolve, reject });
    });
  }

  receive(call: CallSignature, step: number, index: number, length: number): Promise<Float32Array> {
    return this.mailbox.take(call, step, index, length);
  }

  pendingWait(tag: number): PendingWait | null {
    const r = this.mailbox.waiting(tag);
    if (r !== null) return { peer: this.prev, direction: 'receive', ...r };
    const s = this.drainWaiters.find((w) => w.tag === tag);
    if (s !== undefined) return { peer: this.next, direction: 'send', step: s.step, index: s.index };
    return null;
  }

  fail(error: CollectiveError): void {
    if (this.failure !== null) return;
    this.failure = error;
    this.mailbox.fail(error);
    this.settleDrainWaiters(error);
    if (error.code === 'COLLECTIVE_LINK') this.relay(error);
    this.onLinkChange?.();
  }

  close(): Promise<void> {
    if (this.closing === null) {
      this.closed = true;
      this.closing = this.shutdown();
    }
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    this.fail(new CollectiveError('COLLECTIVE_CLOSED', `rank ${this.rank} closed its links`));
    // On the outbound stream the goodbye follows every segment already sent, so the successor
    // still gets them all.
    const goodbye = encodeAbort({ senderRank: this.rank, reason: 'closed', faultyRank: null, message: '' });
    const outbound = this.outbound;
    if (outbound !== null && !outbound.cancelled && !outbound.writableEnded) {
      if (this.outboundGone === null) outbound.write(goodbye);
      outbound.end();
    }
    const inbound = this.inbound;
    // A link that never came up has nobody to say goodbye to: cancel it at once.
    if (inbound !== null && !this.inboundDone && this.inboundReady) {
      let timer: NodeJS.Timeout | undefined;
      await new Promise<void>((resolve) => {
        inbound.once('status', () => resolve());
        timer = setTimeout(resolve, CLOSE_GRACE_MS);
        if (this.inboundGone === null) inbound.write(goodbye);
        inbound.end();
      });
      clearTimeout(timer);
    }
    // No-op when the call already finished; otherwise the neighbour did not answer in time.
    inbound?.cancel();
    this.client?.close();
    this.params.onClosed();
  }

  private helloBase(): Omit<LinkHello, 'receiverRank' | 'waitMs'> {
    return {
      jobId: this.params.jobId,
      generation: this.params.generation,
      worldSize: this.worldSize,
      senderRank: this.rank,
      secret: this.params.secret,
    };
  }

  /** Whether a hello carries this generation's link secret (compared in constant time). */
  admits(hello: LinkHello): boolean {
    return sameSecret(hello.secret, this.params.secret);
  }

  private openInbound(waitMs: number): void {
    const client = new Client(this.params.peers[this.prev]!, this.params.credentials, {
      ...this.params.dialOptions,
      ...CLIENT_OPTIONS,
    });
    this.client = client;
    // waitForReady: the predecessor's endpoint may still be starting; the join deadline bounds it.
    const call: InboundCall = client.makeBidiStreamRequest(
      LINK_METHOD_PATH,
      passBuffer,
      decodeLinkMessage,
      new Metadata({ waitForReady: true }),
    );
    this.inbound = call;
    call.on('data', (m: LinkMessage) => this.onInboundMessage(m));
    call.on('error', (e: ServiceError) => this.onInboundError(e));
    call.on('end', () => this.prevLeft(this.linkError(this.prev, 'it ended the link without notice')));
    call.on('status', () => {
      this.inboundDone = true;
    });
    call.write(encodeHello({ ...this.helloBase(), receiverRank: this.prev, waitMs }));
  }

  private onInboundMessage(m: LinkMessage): void {
    if (this.failure !== null) return;
    if (m.type === 'segment') {
      const s = m.segment;
      if (
        s.jobId !== this.origin.jobId ||
        s.generation !== this.origin.generation ||
        s.senderRank !== this.prev
      ) {
        this.mismatch(
          this.prev,
          `${this.describe(this.prev)} sent a segment of job ${s.jobId} generation ${s.generation} ` +
            `rank ${s.senderRank} on the link of job ${this.origin.jobId} generation ${this.origin.generation}`,
        );
      } else {
        this.mailbox.deliver(s);
      }
    } else if (m.type === 'hello') {
      const problem = this.admits(m.hello)
        ? this.checkHello(m.hello, this.prev)
        : `${this.describe(this.prev)} answered without this generation's link secret`;
      if (problem !== null) {
        this.mismatch(this.prev, problem);
      } else {
        this.inboundReady = true;
        this.onLinkChange?.();
      }
    } else {
      this.prevLeft(this.abortError(this.prev, m.abort));
    }
  }

  private onInboundError(e: ServiceError): void {
    this.inboundDone = true;
    const peer = this.describe(this.prev);
    // The predecessor's endpoint refusing this link (see collective.proto) fails the join.
    if (e.code === status.FAILED_PRECONDITION || e.code === status.PERMISSION_DENIED) {
      this.fail(
        new CollectiveError(
          'COLLECTIVE_MISMATCH',
          `${peer} refused the link: ${e.details}`,
          this.fault(this.prev, e),
        ),
      );
    } else if (e.code === status.DEADLINE_EXCEEDED) {
      this.fail(
        new CollectiveError(
          'COLLECTIVE_TIMEOUT',
          `${peer} refused the link: ${e.details}`,
          this.fault(this.prev, e),
        ),
      );
    } else {
      this.prevLeft(this.linkError(this.prev, `${status[e.code] ?? e.code}: ${e.details}`, e));
    }
  }

  /** The predecessor sends no more: a receive that would wait for it fails. */
  private prevLeft(error: CollectiveError): void {
    if (this.closed || this.inboundGone !== null) return;
    this.inboundGone = error;
    this.rootCause ??= relayedCauses.get(error) ?? error.message;
    this.mailbox.end(error);
    this.onLinkChange?.();
  }

  /** The successor reads no more: a send to it fails. */
  private nextLeft(error: CollectiveError): void {
    if (this.closed || this.outboundGone !== null) return;
    this.outboundGone = error;
    this.rootCause ??= relayedCauses.get(error) ?? error.message;
    this.settleDrainWaiters(error);
    this.onLinkChange?.();
  }

  private abortError(from: number, abort: LinkAbort): CollectiveError {
    if (abort.reason === 'closed') {
      return new CollectiveError('COLLECTIVE_LINK', `${this.describe(from)} closed its group`, {
        peer: from,
      });
    }
    const error = new CollectiveError(
      'COLLECTIVE_LINK',
      `${this.describe(from)} left the group: ${abort.message}`,
      { peer: abort.faultyRank ?? from },
    );
    relayedCauses.set(error, abort.message);
    return error;
  }

  private linkError(peer: number, detail: string, cause?: unknown): CollectiveError {
    const message = `link with ${this.describe(peer)} broke: ${detail}`;
    return new CollectiveError('COLLECTIVE_LINK', message, this.fault(peer, cause));
  }

  /** Tells the neighbours still there that this rank's group failed on a link error. */
  private relay(error: CollectiveError): void {
    const notice = encodeAbort({
      senderRank: this.rank,
      reason: 'link',
      faultyRank: error.peer,
      message: this.rootCause ?? error.message,
    });
    const outbound = this.outbound;
    if (this.outboundGone === null && outbound !== null && !outbound.cancelled && !outbound.writableEnded) {
      outbound.write(notice);
    }
    if (this.inboundGone === null && this.inbound !== null && !this.inboundDone) this.inbound.write(notice);
  }

  private mismatch(peer: number, message: string): void {
    this.fail(new CollectiveError('COLLECTIVE_MISMATCH', message, { peer, rebuild: true }));
  }

  private fault(peer: number, cause: unknown): { peer: number; rebuild: true; cause?: unknown } {
    return cause === undefined ? { peer, rebuild: true } : { peer, rebuild: true, cause };
  }

  private checkHello(h: LinkHello, expectedSender: number): string | null {
    const p = this.params;
    if (h.jobId !== p.jobId || h.generation !== p.generation) {
      return `${this.describe(this.rank)} is in job ${p.jobId} generation ${p.generation}, not job ${h.jobId} generation ${h.generation}`;
    }
    if (h.worldSize !== this.worldSize || h.senderRank !== expectedSender || h.receiverRank !== this.rank) {
      return (
        `a peer claiming rank ${h.senderRank} of ${h.worldSize} linked to rank ${h.receiverRank}; rank ` +
        `${this.rank} of ${this.worldSize} expects a link with rank ${expectedSender}`
      );
    }
    return null;
  }

  /** Wakes the sends waiting for the outbound stream to drain, or fails them with `error`. */
  private settleDrainWaiters(error: CollectiveError | null): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) {
      if (error === null) w.resolve();
      else w.reject(error);
    }
  }
}
