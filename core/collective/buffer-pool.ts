/**
 * Reusable byte buffers of one size. The links encode each outgoing segment into one and take it
 * back once the transport has copied it, so a steady stream allocates no fresh ArrayBuffers on
 * this side: fresh 1 MiB buffers per segment were external memory that pushed V8 into a major GC
 * every call or two of a large allreduce.
 */
export class BufferPool {
  private readonly free: ArrayBuffer[] = [];

  /**
   * @param size bytes per buffer; larger requests get unpooled buffers
   * @param keep how many free buffers to hold on to
   */
  constructor(
    private readonly size: number,
    private readonly keep: number,
  ) {}

  /** A buffer of `bytes` bytes (contents undefined). */
  readonly take = (bytes: number): Buffer => {
    if (bytes > this.size) return Buffer.allocUnsafe(bytes);
    return Buffer.from(this.free.pop() ?? new ArrayBuffer(this.size), 0, bytes);
  };

  /** Returns a buffer from take() once nothing reads it any more. */
  give(buffer: Buffer): void {
    const backing = buffer.buffer;
    if (backing instanceof ArrayBuffer && backing.byteLength === this.size && this.free.length < this.keep) {
      this.free.push(backing);
    }
  }
}
