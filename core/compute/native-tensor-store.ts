import type { DataId, DataType, TensorInfo } from '@tensorflow/tfjs';
import { MathBackendCPU } from '@tensorflow/tfjs-backend-cpu';

/** Bytes of freed kernel outputs kept for reuse; beyond this they are left to the garbage collector. */
const POOL_BYTES = 512 * 1024 * 1024;

type BackendValues = Float32Array | Int32Array | Uint8Array | Uint8Array[];

/** A kernel output: how many stored tensors view its memory, and whether its values left the backend. */
interface Output {
  readonly array: Float32Array;
  views: number;
  exposed: boolean;
}

/**
 * The native backend's tensor store: tfjs's cpu backend that recycles the float32 arrays its
 * kernels write. A training step allocates the same outputs every step (an 11 MB gradient, a 5 MB
 * feature map), and every fresh ArrayBuffer counts as V8 external memory that triggers a garbage
 * collection every few tens of megabytes, several milliseconds per step. An output goes back to the
 * pool only when no stored tensor views its memory any more (views made by other kernels, such as a
 * slice, count) and its values never left the backend through read/readSync (dataSync, arraySync):
 * an array handed to user code is never reused.
 */
export class NativeTensorStore extends MathBackendCPU {
  private readonly pool = new Map<number, Float32Array[]>();
  private pooledBytes = 0;
  private readonly outputs = new WeakMap<ArrayBufferLike, Output>();

  /**
   * A float32 array of `length` for a kernel to write every element of (its contents are stale:
   * a recycled array is not cleared).
   */
  output(length: number): Float32Array {
    const list = this.pool.get(length);
    const reused = list?.pop();
    if (list?.length === 0) this.pool.delete(length);
    if (reused) {
      this.pooledBytes -= reused.byteLength;
      return reused;
    }
    const array = new Float32Array(length);
    if (length > 0) this.outputs.set(array.buffer, { array, views: 0, exposed: false });
    return array;
  }

  /** Copies a tensor's values into `out` at `offset` without handing its array out. */
  copyInto(dataId: DataId, out: Float32Array, offset: number): void {
    out.set(this.data.get(dataId).values as Float32Array, offset);
  }

  override write(values: BackendValues, shape: number[], dtype: DataType): DataId {
    const dataId = super.write(values, shape, dtype);
    this.track(values);
    return dataId;
  }

  override move(
    dataId: DataId,
    values: BackendValues,
    shape: number[],
    dtype: DataType,
    refCount: number,
  ): void {
    super.move(dataId, values, shape, dtype, refCount);
    this.track(values);
  }

  override readSync(dataId: DataId): BackendValues {
    this.expose(this.data.get(dataId)?.values);
    return super.readSync(dataId) as BackendValues;
  }

  override disposeData(dataId: DataId, force = false): boolean {
    const values = this.data.get(dataId)?.values;
    const removed = super.disposeData(dataId, force);
    if (removed && ArrayBuffer.isView(values)) this.release(values);
    return removed;
  }

  override disposeIntermediateTensorInfo(tensorInfo: TensorInfo): void {
    this.disposeData(tensorInfo.dataId);
  }

  /** One stored tensor fewer views this memory; the last one sends a kernel output back to the pool. */
  private release(values: ArrayBufferView): void {
    const o = this.outputs.get(values.buffer);
    if (!o || --o.views > 0 || o.exposed || this.pooledBytes + o.array.byteLength > POOL_BYTES) return;
    const list = this.pool.get(o.array.length);
    if (list) list.push(o.array);
    else this.pool.set(o.array.length, [o.array]);
    this.pooledBytes += o.array.byteLength;
  }

  private track(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const o = this.outputs.get(values.buffer);
    if (o) o.views++;
  }

  private expose(values: unknown): void {
    if (!ArrayBuffer.isView(values)) return;
    const o = this.outputs.get(values.buffer);
    if (o) o.exposed = true;
  }
}
