// A request body held inside the VM for a rewrite, instead of in Envoy's buffer.
//
// Why: when a filter answers StopIterationAndBuffer, Envoy appends each further chunk to the held
// body before the filter sees it and answers 413 (or resets the stream, once the headers went
// upstream) as soon as the total passes its buffer limit. Over HTTP/1.1 one chunk can be as
// large as a socket read (up to about that limit), so a body held to half the limit could still
// be refused although the filter would have given the rewrite up (seen in 10-25% of 2 MiB
// chunked requests in Envoy 1.36 and 1.40). Held here, each chunk is copied out and answered
// StopIterationNoBuffer: Envoy keeps nothing, so nothing can pass its limit; the whole body
// goes back in place of the last chunk (or, past the bound, in front of the chunk that crossed
// it). HTTP/2 and HTTP/3 keep Envoy's buffer: their chunks are frames (16 KiB unless the peers
// agree on more), and only there can a request body end in trailers, which would find nothing
// to carry a body held here.
import { Buffer, getPropertyString, readBuffer, READ_WINDOW } from "./envoy";

/** Whether this request's body is held in the VM (HTTP/1.x) rather than in Envoy's buffer. */
export function holdsInVm(): bool {
  const protocol = getPropertyString(["request", "protocol"]);
  return protocol !== null && protocol.startsWith("HTTP/1");
}

export class HeldBody {
  private data: Uint8Array = new Uint8Array(0);
  length: i32 = 0;

  /** Copies the current request body chunk [0, chunkLength) after what is held; false, with
   *  nothing copied, when that would hold more than `bound` bytes. */
  append(chunkLength: i32, bound: i32): bool {
    if (chunkLength > bound - this.length) return false;
    const need = this.length + chunkLength;
    if (need > this.data.length) {
      // doubling, capped at the bound: a body costs at most twice its size while it grows
      const grown = new Uint8Array(min(bound, max(need, max(16 << 10, this.data.length << 1))));
      memory.copy(grown.dataStart, this.data.dataStart, <usize>this.length);
      this.data = grown;
    }
    for (let at = 0; at < chunkLength; at += READ_WINDOW) {
      const chunk = readBuffer(Buffer.RequestBody, <u32>at, <u32>min(READ_WINDOW, chunkLength - at));
      if (chunk.length == 0) break;
      memory.copy(this.data.dataStart + <usize>this.length, chunk.ptr, <usize>chunk.length);
      this.length += chunk.length;
    }
    return true;
  }

  /** The bytes held (a view: valid until the next append). */
  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }
}
