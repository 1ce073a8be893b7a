// Thin, non-trapping wrappers over the proxy-wasm imports. The SDK's helpers turn any non-Ok
// result into a trap (CHECK_RESULT → abort), which in Envoy fails every stream on the worker; here
// a read answered NotFound comes back as null/empty. Any other failed read is also returned as
// absent (the stream goes on), but counted: takeHostErrors() feeds the
// asm_llm_proxy_host_call_errors counter, so a host in trouble is visible, not silent.
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { free, lend } from "@solo-io/proxy-runtime/assembly/malloc";

export const enum HeaderMap { Request = 0, RequestTrailers = 1, Response = 2, ResponseTrailers = 3 }
export const enum Buffer { RequestBody = 0, ResponseBody = 1, VmConfiguration = 6, PluginConfiguration = 7 }
export const enum Level { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4, Critical = 5 }
export const OK: u32 = 0;
const NOT_FOUND: u32 = 1;

/** Reads answered neither Ok nor NotFound since the last takeHostErrors(). */
let hostErrors: u32 = 0;

/** Whether a read succeeded; NotFound is an ordinary absence, any other status is counted. */
function answered(result: u32): bool {
  if (result == OK) return true;
  if (result != NOT_FOUND) hostErrors++;
  return false;
}

/** The failed reads counted since the last call (telemetry/publish.ts adds them to a counter). */
export function takeHostErrors(): u32 {
  const n = hostErrors;
  hostErrors = 0;
  return n;
}

// Out-pointers the host writes a (ptr, size) pair through.
const OUT: usize = memory.data(16, 8);
const OUT_PTR: usize = OUT;
const OUT_SIZE: usize = OUT + 8;

/** Takes ownership of the bytes the host returned through OUT (see malloc.ts: unpin once). */
function takeReturned(): ArrayBuffer {
  const ptr = load<usize>(OUT_PTR);
  const size = load<usize>(OUT_SIZE);
  if (size == 0 || ptr == 0) return new ArrayBuffer(0);
  const buffer = changetype<ArrayBuffer>(ptr);
  free(ptr); // the local reference keeps it alive from here on
  return buffer;
}

function clearOut(): void {
  store<usize>(OUT_PTR, 0);
  store<usize>(OUT_SIZE, 0);
}

export function log(level: Level, message: string): void {
  const bytes = String.UTF8.encode(message);
  imports.proxy_log(<usize>level, changetype<usize>(bytes), bytes.byteLength);
}

/** A header value, or null when absent (or when Envoy no longer holds the map). */
export function getHeader(map: HeaderMap, name: string): string | null {
  return headerValue(map, String.UTF8.encode(name));
}

/** getHeader with the name already UTF-8 encoded (constants are encoded once). */
export function headerValue(map: HeaderMap, key: ArrayBuffer): string | null {
  clearOut();
  const result = imports.proxy_get_header_map_value(map, changetype<usize>(key), key.byteLength, OUT_PTR, OUT_SIZE);
  if (!answered(result)) return null;
  return String.UTF8.decode(takeReturned());
}

// A short header value compared in place: read into a small block lent to the host's malloc, so
// the check every request pays (`:method`) allocates nothing.
const SMALL_BYTES: i32 = 64;
let smallBlock: usize = 0;

/** Whether header `name` (pre-encoded) is there with exactly the bytes of `expected`. */
export function headerEquals(map: HeaderMap, name: ArrayBuffer, expected: ArrayBuffer): bool {
  if (smallBlock == 0) smallBlock = heap.alloc(<usize>SMALL_BYTES);
  clearOut();
  lend(smallBlock, SMALL_BYTES);
  const result = imports.proxy_get_header_map_value(map, changetype<usize>(name), name.byteLength, OUT_PTR, OUT_SIZE);
  lend(0, 0);
  if (!answered(result)) return false;
  const ptr = load<usize>(OUT_PTR);
  const size = <i32>load<usize>(OUT_SIZE);
  if (ptr != smallBlock) {
    if (ptr != 0) takeReturned(); // longer than the block, so not `expected`: let it go
    return false;
  }
  return size == expected.byteLength && memory.compare(ptr, changetype<usize>(expected), <usize>size) == 0;
}

// A whole header map read at once (proxy_get_header_map_pairs) into a reused block lent to the
// host's malloc: one host call (and one malloc call back into the VM) where reading the headers
// one by one costs two of each per header. Past the block, a managed buffer.
const PAIRS_BYTES: i32 = 16 * 1024;
let pairsBlock: usize = 0;
// biome-ignore lint/correctness/noUnusedVariables: never read; holding the buffer is what keeps it from the collector
let pairsOverflow: ArrayBuffer | null = null;

/** A header map as read by readHeaders: valid until the next readHeaders, and only as the map
 *  was then (a header replaced since is not seen). */
export class HeaderSnapshot {
  /** The serialized pairs: u32 count, count × (u32 name size, u32 value size), then each name
   *  and value followed by a NUL (proxy-wasm-cpp-host exportPairs). */
  ptr: usize = 0;
  size: i32 = 0;
  count: i32 = 0;

  /** The first value of header `name` (lower case, pre-encoded), or null. */
  value(name: ArrayBuffer): string | null {
    const n = this.count;
    const end = this.ptr + <usize>this.size;
    let sizes = this.ptr + 4;
    let text = sizes + <usize>n * 8;
    const len = name.byteLength;
    for (let i = 0; i < n; i++, sizes += 8) {
      const k = <usize>load<u32>(sizes);
      const v = <usize>load<u32>(sizes + 4);
      const valueAt = text + k + 1;
      if (valueAt + v > end) return null; // never so from the host: a bound, not a case
      if (<i32>k == len && memory.compare(text, changetype<usize>(name), k) == 0) return String.UTF8.decodeUnsafe(valueAt, v);
      text = valueAt + v + 1;
    }
    return null;
  }
}
const snapshot = new HeaderSnapshot();

/** Reads a whole header map; an empty snapshot when unavailable (a failure is counted). */
export function readHeaders(map: HeaderMap): HeaderSnapshot {
  if (pairsBlock == 0) pairsBlock = heap.alloc(<usize>PAIRS_BYTES);
  pairsOverflow = null;
  clearOut();
  lend(pairsBlock, PAIRS_BYTES);
  const result = imports.proxy_get_header_map_pairs(map, OUT_PTR, OUT_SIZE);
  lend(0, 0);
  const ptr = load<usize>(OUT_PTR);
  const size = <i32>load<usize>(OUT_SIZE);
  snapshot.ptr = 0;
  snapshot.size = 0;
  snapshot.count = 0;
  if (!answered(result) || ptr == 0 || size < 4) return snapshot;
  if (ptr != pairsBlock) pairsOverflow = takeReturned();
  const count = <i32>load<u32>(ptr);
  if (count < 0 || <i64>count * 8 + 4 > <i64>size) return snapshot;
  snapshot.ptr = ptr;
  snapshot.size = size;
  snapshot.count = count;
  return snapshot;
}

export function replaceHeader(map: HeaderMap, name: string, value: string): bool {
  const key = String.UTF8.encode(name);
  const v = String.UTF8.encode(value);
  return imports.proxy_replace_header_map_value(map, changetype<usize>(key), key.byteLength, changetype<usize>(v), v.byteLength) == OK;
}

export function removeHeader(map: HeaderMap, name: string): bool {
  const key = String.UTF8.encode(name);
  return imports.proxy_remove_header_map_value(map, changetype<usize>(key), key.byteLength) == OK;
}

/** A property by its path segments (joined with \0 as the ABI wants), or null when NotFound. */
export function getProperty(segments: string[]): ArrayBuffer | null {
  const path = String.UTF8.encode(segments.join("\0"));
  clearOut();
  const result = imports.proxy_get_property(changetype<usize>(path), path.byteLength, OUT_PTR, OUT_SIZE);
  if (!answered(result)) return null;
  return takeReturned();
}

export function getPropertyString(segments: string[]): string | null {
  const value = getProperty(segments);
  return value === null ? null : String.UTF8.decode(value);
}

/** Sets filter state `wasm.<key>` from raw bytes; `key` pre-encoded (see telemetry/publish.ts). */
export function setFilterStateRaw(key: ArrayBuffer, ptr: usize, len: i32): bool {
  return imports.proxy_set_property(changetype<usize>(key), key.byteLength, ptr, len) == OK;
}

/** Sets filter state `wasm.<path>` (Envoy's Context::setProperty). */
export function setFilterState(path: string, value: ArrayBuffer): bool {
  const key = String.UTF8.encode(path);
  return imports.proxy_set_property(changetype<usize>(key), key.byteLength, changetype<usize>(value), value.byteLength) == OK;
}

/** Reads [start, start+length) of a buffer; an empty buffer when unavailable. The caller owns it. */
export function getBuffer(type: Buffer, start: u32, length: u32): ArrayBuffer {
  clearOut();
  const result = imports.proxy_get_buffer_bytes(type, start, length, OUT_PTR, OUT_SIZE);
  if (!answered(result)) return new ArrayBuffer(0);
  return takeReturned();
}

// Body chunks are read into one reused block lent to the host's malloc, so scanning a body costs
// no managed allocation (and no garbage collection) per chunk; a larger chunk falls back to a
// managed buffer, kept alive until the next read.
const SCRATCH_BYTES: i32 = 64 * 1024;
/** The most a body read asks for at once: what the scratch block holds, so reads never allocate. */
export const READ_WINDOW: i32 = SCRATCH_BYTES;
let scratch: usize = 0;
// biome-ignore lint/correctness/noUnusedVariables: never read; holding the buffer is what keeps it from the collector
let overflow: ArrayBuffer | null = null;

/** Bytes of a body read for scanning: valid until the next readBuffer. */
export class BodyBytes {
  ptr: usize = 0;
  length: i32 = 0;
}
// One instance, refilled by every read: a body chunk costs no allocation.
const lastRead = new BodyBytes();

/** Reads [start, start+length) of a buffer for scanning (length 0 when unavailable). */
export function readBuffer(type: Buffer, start: u32, length: u32): BodyBytes {
  if (scratch == 0) scratch = heap.alloc(<usize>SCRATCH_BYTES);
  overflow = null;
  clearOut();
  lend(scratch, SCRATCH_BYTES);
  const result = imports.proxy_get_buffer_bytes(type, start, length, OUT_PTR, OUT_SIZE);
  lend(0, 0);
  const ptr = load<usize>(OUT_PTR);
  const size = <i32>load<usize>(OUT_SIZE);
  if (!answered(result) || ptr == 0 || size == 0) {
    lastRead.ptr = 0;
    lastRead.length = 0;
    return lastRead;
  }
  if (ptr != scratch) {
    // The host asked for more than the scratch block: a managed buffer we now own.
    overflow = takeReturned();
  }
  lastRead.ptr = ptr;
  lastRead.length = size;
  return lastRead;
}

/** The size of a buffer (a body completed by trailers never said it on a body callback); 0 when
 *  unavailable. */
export function bufferedSize(type: Buffer): i32 {
  // (length, flags) through the two out-slots
  if (!answered(imports.proxy_get_buffer_status(type, OUT_PTR, OUT_SIZE))) return 0;
  return <i32>load<u32>(OUT_PTR);
}

/** Replaces [start, start+length) of a buffer with `data` (the SDK bound this to the wrong import). */
export function setBuffer(type: Buffer, start: u32, length: u32, data: ArrayBuffer): bool {
  return imports.proxy_set_buffer_bytes(type, start, length, changetype<usize>(data), data.byteLength) == OK;
}

/** setBuffer from raw bytes [ptr, ptr+len) (start 0, length 0 prepends: Envoy's Buffer::copyFrom). */
export function setBufferBytes(type: Buffer, start: u32, length: u32, ptr: usize, len: i32): bool {
  return imports.proxy_set_buffer_bytes(type, start, length, ptr, len) == OK;
}

export const enum MetricType { Counter = 0, Gauge = 1, Histogram = 2 }

/** Defines a metric; every call returns a new id in Envoy, so callers cache (telemetry/metrics.ts). */
export function defineMetric(type: MetricType, name: string): i64 {
  const bytes = String.UTF8.encode(name);
  store<u32>(OUT_PTR, 0);
  const result = imports.proxy_define_metric(<imports.MetricType><i32>type, changetype<usize>(bytes), bytes.byteLength, OUT_PTR);
  if (result != OK) return -1;
  return <i64>load<u32>(OUT_PTR);
}

/** Records a value into a histogram (Envoy: Histogram::recordValue; values are u64). */
export function recordHistogram(id: u32, value: i64): bool {
  if (value < 0) return false;
  return imports.proxy_record_metric(id, <u64>value) == OK;
}

/** Host time in nanoseconds (Envoy: the dispatcher's wall clock), 0 when unavailable. */
export function nowNanoseconds(): i64 {
  store<u64>(OUT_PTR, 0);
  if (imports.proxy_get_current_time_nanoseconds(OUT_PTR) != OK) return 0;
  return <i64>load<u64>(OUT_PTR);
}

/** Adds a positive amount to a counter (Envoy answers BadArgument for <= 0). */
export function incrementCounter(id: u32, amount: i64): bool {
  if (amount <= 0) return false;
  return imports.proxy_increment_metric(id, amount) == OK;
}

// The VM environment (WasmPlugin vmConfig.env) arrives through WASI, as Envoy provides it.
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_sizes_get")
declare function environ_sizes_get(count: usize, bufSize: usize): u16;
// @ts-ignore: decorator
@external("wasi_snapshot_preview1", "environ_get")
declare function environ_get(environ: usize, environBuf: usize): u16;

/** The VM's environment variable `name`, or null. */
export function getEnv(name: string): string | null {
  if (environ_sizes_get(OUT_PTR, OUT_SIZE) != 0) return null;
  const count = load<u32>(OUT_PTR);
  const size = load<u32>(OUT_SIZE);
  if (count == 0 || count > 65536 || size > (64 << 20)) return null;
  const pointers = new ArrayBuffer(<i32>count * 4);
  const buf = new ArrayBuffer(<i32>size);
  if (environ_get(changetype<usize>(pointers), changetype<usize>(buf)) != 0) return null;
  const base = changetype<usize>(buf);
  const end = base + <usize>size;
  for (let i: u32 = 0; i < count; i++) {
    const p = load<u32>(changetype<usize>(pointers) + <usize>(i * 4));
    if (<usize>p < base || <usize>p >= end) continue;
    let q = <usize>p;
    while (q < end && load<u8>(q) != 0) q++;
    const entry = String.UTF8.decodeUnsafe(<usize>p, q - <usize>p);
    const eq = entry.indexOf("=");
    if (eq > 0 && entry.substring(0, eq) == name) return entry.substring(eq + 1);
  }
  return null;
}
