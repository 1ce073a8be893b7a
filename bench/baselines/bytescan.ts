// Benchmark baseline: the floor of any filter with this SDK that reads the bodies. Every body
// chunk is copied into the module (proxy_get_buffer_bytes, which calls the module's malloc) and
// passed over once with a 16-bytes-a-step SIMD search (counting quotes); nothing else — no
// headers read, no state, no output. Two ways of taking the host's copy, by plugin configuration:
//   "" (default)  the SDK's malloc: a GC-managed ArrayBuffer per chunk, pinned until the module
//                 takes it (what the filter does today through assembly/envoy.ts getBuffer);
//   "scratch"     while a body chunk is being read, malloc hands out one reused, unmanaged block
//                 (grown when too small): no allocation and no GC work per chunk. Every other
//                 malloc (properties, headers, the SDK's own reads) stays the SDK's.
import * as sdk from "@solo-io/proxy-runtime/assembly/malloc";
// Every proxy_on_* export of the SDK; malloc and free are ours (below).
export * from "@solo-io/proxy-runtime/assembly/exports";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, FilterDataStatusValues,
} from "@solo-io/proxy-runtime/assembly";
import * as imports from "@solo-io/proxy-runtime/assembly/imports";

let scratchMode = false;
let readingBody = false;
let scratch: usize = 0;
let scratchCap: usize = 0;

export function malloc(size: i32): usize {
  if (!readingBody) return sdk.malloc(size);
  if (<usize>size > scratchCap) {
    if (scratch != 0) heap.free(scratch);
    scratchCap = max(<usize>size, 16384);
    scratch = heap.alloc(scratchCap);
  }
  return scratch;
}

export function free(ptr: usize): void {
  sdk.free(ptr);
}

const OUT: usize = memory.data(16, 8);
/** Quotes seen (kept so the scan is not optimized away). */
export let quotes: u64 = 0;

function scan(p: usize, end: usize): void {
  const quote = i8x16.splat(0x22);
  let n: u64 = 0;
  while (p + 16 <= end) {
    n += <u64>popcnt(i8x16.bitmask(i8x16.eq(v128.load(p), quote)));
    p += 16;
  }
  while (p < end) {
    if (load<u8>(p) == 0x22) n++;
    p++;
  }
  quotes += n;
}

function readAndScan(type: i32, length: usize): void {
  if (length == 0) return;
  store<usize>(OUT, 0);
  store<usize>(OUT + 8, 0);
  readingBody = scratchMode;
  const result = imports.proxy_get_buffer_bytes(type, 0, <u32>length, OUT, OUT + 8);
  readingBody = false;
  if (result != 0) return;
  const ptr = load<usize>(OUT);
  const size = load<usize>(OUT + 8);
  if (ptr == 0) return;
  if (scratchMode) {
    scan(ptr, ptr + size);
  } else {
    const buffer = changetype<ArrayBuffer>(ptr);
    sdk.free(ptr); // the module owns it from here (unpinned; `buffer` keeps it alive)
    scan(changetype<usize>(buffer), changetype<usize>(buffer) + <usize>buffer.byteLength);
  }
}

class ScanRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new ScanStream(context_id, this);
  }
  onConfigure(configuration_size: u32): bool {
    const ok = super.onConfigure(configuration_size);
    scratchMode = this.getConfiguration() == "scratch";
    return ok;
  }
}

class ScanStream extends Context {
  onRequestHeaders(_headers: u32, _end_of_stream: bool): FilterHeadersStatusValues {
    return FilterHeadersStatusValues.Continue;
  }
  onRequestBody(body_buffer_length: usize, _end_of_stream: bool): FilterDataStatusValues {
    readAndScan(0, body_buffer_length);
    return FilterDataStatusValues.Continue;
  }
  onResponseBody(body_buffer_length: usize, _end_of_stream: bool): FilterDataStatusValues {
    readAndScan(1, body_buffer_length);
    return FilterDataStatusValues.Continue;
  }
}

registerRootContext((context_id: u32): RootContext => new ScanRoot(context_id), "asm-llm-proxy");
registerRootContext((context_id: u32): RootContext => new ScanRoot(context_id), "");
