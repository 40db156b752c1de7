/**
 * Ring broadcast: the root streams its buffer segment by segment to rank root + 1, and every other
 * rank copies each segment and forwards it to its successor until the ring is back at the root.
 * Pipelined by segment, so for large buffers every link is busy at once and the time is close to
 * one buffer transfer; the latency grows with worldSize, which is fine at data-parallel sizes.
 */
import type { CallSignature, RingLinks } from './ring-links.js';
import { segmentCount } from './segment-layout.js';

/** Copies the root's `data` into every rank's `data` in place. */
export async function ringBroadcast(
  links: RingLinks,
  call: CallSignature,
  data: Float32Array,
  segmentElements: number,
): Promise<void> {
  const n = links.worldSize;
  if (n === 1) return;
  const r = links.rank;
  const forward = (r + 1) % n !== call.root;
  const segments = segmentCount(data.length, segmentElements);
  for (let k = 0; k < segments; k++) {
    const lo = k * segmentElements;
    let segment = data.subarray(lo, Math.min(data.length, lo + segmentElements));
    if (r !== call.root) {
      const incoming = await links.receive(call, 0, k, segment.length);
      segment.set(incoming);
      // Forwarding the received array rather than the copy spares the transport a copy.
      segment = incoming;
    }
    if (forward) await links.send(call, 0, k, segment);
  }
}
