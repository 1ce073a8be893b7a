// The host functions a proxy-wasm module imports: the proxy-wasm 0.2.x `env` set and the WASI
// subset Envoy provides, following proxy-wasm-cpp-host src/exports.cc (argument checks, result
// codes, out-pointer writes) and source/extensions/common/wasm/context.cc (Envoy's answers).
// Every import the module declares must be found here, or loading fails like Envoy's
// "Failed to load Wasm module due to a missing import".
import { BufferType, HeaderMapType, LogLevel, StreamType, WasiErrno, WasmResult, type WasmResultCode } from "./constants";
import { decodePairs, encodePairs } from "./pairs";
import { getProperty } from "../envoy/properties";
import { decodeDeclareProperty, type CelStatePrototype } from "../envoy/filter-state";
import type { MetricIdSpace } from "../envoy/stats";
import type { HostContext } from "./context";
import type { WasmMemory } from "./memory";

const enc = new TextEncoder();

/** What the host functions may use of the VM they serve. vm.ts's WasmVm provides it and builds
 *  its imports from this module; naming only this much keeps the two from importing each other. */
export interface ImportsVm {
  readonly mem: WasmMemory;
  readonly env: Record<string, string>;
  readonly logLevel: number;
  readonly restricted: boolean;
  /** Test fault injection: an import named here answers this status without running (what a
   *  host in trouble, e.g. Envoy's InternalFailure or SerializationFailure, would answer). */
  readonly hostCallFaults: Map<string, WasmResultCode>;
  /** When set, every import call is counted here by name (bench/host-calls.ts's census). */
  hostCallCounts?: Map<string, number>;
  tickPeriodMs: number;
  readonly now: () => bigint;
  readonly metricIds: MetricIdSpace;
  readonly sharedData: Map<string, { value: Uint8Array; cas: number }>;
  readonly foreignFunctions: Map<string, (args: Uint8Array) => { result: WasmResultCode; value?: Uint8Array }>;
  log(level: number, message: string): void;
  effectiveContext(): HostContext;
  setEffectiveContext(id: number): WasmResultCode;
  declareProperty(path: string, proto: CelStatePrototype): WasmResultCode;
  copyToPointerSize(bytes: Uint8Array, ptrPtr: number, sizePtr: number): boolean;
}

/** Thrown by wasi proc_exit. Envoy logs "proc_exit" and the AssemblyScript abort path then hits
 * `unreachable`; either way the VM fails. */
export class ProcExit extends Error {
  constructor(public readonly code: number) {
    super(`wasi proc_exit(${code})`);
    this.name = "ProcExit";
  }
}

/** A call to an import not allowed while the VM starts (_initialize) or inside malloc
 * (cpp-host WasmBase::startVm / allocMemory setRestrictedCallback). */
export class RestrictedCall extends Error {
  constructor(name: string) {
    super(`Function: ${name} failed: calling restricted function`);
    this.name = "RestrictedCall";
  }
}

// cpp-host turns i32 arguments into 64-bit Words by sign extension (v8.cc convertValueTypeToArg
// uses val.i32()); get/set_buffer_bytes overflow checks depend on it.
const word = (x: number): bigint => BigInt.asUintN(64, BigInt(x | 0));
const U64_MAX = (1n << 64n) - 1n;

const ALLOWED_WHILE_RESTRICTED = new Set([
  "env.proxy_log",
  ...[
    "fd_write",
    "args_sizes_get",
    "args_get",
    "environ_sizes_get",
    "environ_get",
    "fd_prestat_get",
    "fd_prestat_dir_name",
    "clock_time_get",
    "random_get",
  ].flatMap((n) => [`wasi_unstable.${n}`, `wasi_snapshot_preview1.${n}`]),
]);

type Fn = (...args: never[]) => number | void;

/** proxy-wasm imports: logging, the clock, the tick. */
function logAndClockFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const R = WasmResult;
  return {
    proxy_log(level: number, ptr: number, size: number) {
      if (level >>> 0 > LogLevel.MAX) return R.BadArgument;
      const msg = mem().string(ptr, size);
      if (msg === null) return R.InvalidMemoryAccess;
      vm.log(level, msg);
      return R.Ok;
    },
    proxy_get_log_level(ptr: number) {
      return mem().setU32(ptr, vm.logLevel) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_get_status(codePtr: number, ptrPtr: number, sizePtr: number) {
      if (!mem().setU32(codePtr, 0)) return R.InvalidMemoryAccess;
      return vm.copyToPointerSize(new Uint8Array(0), ptrPtr, sizePtr) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_tick_period_milliseconds(ms: number) {
      vm.tickPeriodMs = ms >>> 0;
      return R.Ok;
    },
    proxy_get_current_time_nanoseconds(ptr: number) {
      return mem().setU64(ptr, vm.now()) ? R.Ok : R.InvalidMemoryAccess;
    },
  };
}

/** proxy-wasm imports: properties, and what a filter may do to its stream. */
function streamControlFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const ctx = () => vm.effectiveContext();
  const R = WasmResult;
  return {
    proxy_get_property(pathPtr: number, pathSize: number, ptrPtr: number, sizePtr: number) {
      const path = mem().copy(pathPtr, pathSize);
      if (!path) return R.InvalidMemoryAccess;
      const r = getProperty(ctx().propertySource(), path);
      if (r.result !== R.Ok) return r.result;
      return vm.copyToPointerSize(r.value!, ptrPtr, sizePtr) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_property(keyPtr: number, keySize: number, valPtr: number, valSize: number) {
      const key = mem().string(keyPtr, keySize);
      const value = mem().copy(valPtr, valSize);
      if (key === null || !value) return R.InvalidMemoryAccess;
      return ctx().setProperty(key, value);
    },
    proxy_continue_stream(type: number) {
      if (word(type) > BigInt(StreamType.MAX)) return R.BadArgument;
      return ctx().continueStream(type);
    },
    proxy_close_stream(type: number) {
      if (word(type) > BigInt(StreamType.MAX)) return R.BadArgument;
      return ctx().closeStream(type);
    },
    proxy_continue_request() {
      return ctx().continueStream(StreamType.Request);
    },
    proxy_continue_response() {
      return ctx().continueStream(StreamType.Response);
    },
    proxy_send_local_response(
      code: number,
      dPtr: number,
      dSize: number,
      bPtr: number,
      bSize: number,
      hPtr: number,
      hSize: number,
      grpc: number,
    ) {
      const details = mem().string(dPtr, dSize);
      const body = mem().string(bPtr, bSize);
      const headers = mem().copy(hPtr, hSize);
      if (details === null || body === null || !headers) return R.InvalidMemoryAccess;
      ctx().sendLocalResponse({ status: code >>> 0, body, headers: decodePairs(headers), details, grpcStatus: grpc | 0 });
      return R.Ok;
    },
    proxy_clear_route_cache() {
      return R.Ok;
    },
  };
}

/** proxy-wasm imports: shared data and queues. */
function sharedDataFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const R = WasmResult;
  return {
    proxy_get_shared_data(kPtr: number, kSize: number, ptrPtr: number, sizePtr: number, casPtr: number) {
      const key = mem().string(kPtr, kSize);
      if (key === null) return R.InvalidMemoryAccess;
      const e = vm.sharedData.get(key);
      if (!e) return R.NotFound;
      if (!vm.copyToPointerSize(e.value, ptrPtr, sizePtr)) return R.InvalidMemoryAccess;
      return mem().setU32(casPtr, e.cas) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_shared_data(kPtr: number, kSize: number, vPtr: number, vSize: number, cas: number) {
      const key = mem().string(kPtr, kSize);
      const value = mem().copy(vPtr, vSize);
      if (key === null || !value) return R.InvalidMemoryAccess;
      const e = vm.sharedData.get(key);
      if (e && cas >>> 0 !== 0 && cas >>> 0 !== e.cas) return R.CasMismatch;
      vm.sharedData.set(key, { value, cas: (e?.cas ?? 0) + 1 });
      return R.Ok;
    },
    proxy_register_shared_queue() {
      return R.Unimplemented;
    },
    proxy_resolve_shared_queue() {
      return R.NotFound;
    },
    proxy_dequeue_shared_queue() {
      return R.NotFound;
    },
    proxy_enqueue_shared_queue() {
      return R.NotFound;
    },
  };
}

/** proxy-wasm imports: header maps. */
function headerMapFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const ctx = () => vm.effectiveContext();
  const R = WasmResult;
  return {
    proxy_add_header_map_value(type: number, kPtr: number, kSize: number, vPtr: number, vSize: number) {
      if (word(type) > BigInt(HeaderMapType.MAX)) return R.BadArgument;
      const key = mem().string(kPtr, kSize),
        value = mem().string(vPtr, vSize);
      if (key === null || value === null) return R.InvalidMemoryAccess;
      const map = ctx().getMap(type);
      if (!map) return R.BadArgument;
      map.add(key, value);
      return R.Ok;
    },
    proxy_get_header_map_value(type: number, kPtr: number, kSize: number, ptrPtr: number, sizePtr: number) {
      if (word(type) > BigInt(HeaderMapType.MAX)) return R.BadArgument;
      const key = mem().string(kPtr, kSize);
      if (key === null) return R.InvalidMemoryAccess;
      const c = ctx();
      const map = c.getConstMap(type);
      if (!map) return c.accessLogPhase ? R.NotFound : R.BadArgument;
      const v = map.first(key); // first entry only (context.cc TODO about multiple values)
      if (v === undefined) return R.NotFound;
      return vm.copyToPointerSize(enc.encode(v), ptrPtr, sizePtr) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_get_header_map_pairs(type: number, ptrPtr: number, sizePtr: number) {
      if (word(type) > BigInt(HeaderMapType.MAX)) return R.BadArgument;
      const map = ctx().getConstMap(type);
      // headerMapToPairs(nullptr) → {} → Ok; an empty result is returned as ptr 0, size 0.
      const bytes = map && map.size > 0 ? encodePairs(map.entries) : new Uint8Array(0);
      return vm.copyToPointerSize(bytes, ptrPtr, sizePtr) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_header_map_pairs(type: number, ptr: number, size: number) {
      if (word(type) > BigInt(HeaderMapType.MAX)) return R.BadArgument;
      const data = mem().copy(ptr, size);
      if (!data) return R.InvalidMemoryAccess;
      const map = ctx().getMap(type);
      if (!map) return R.BadArgument;
      map.setPairs(decodePairs(data));
      return R.Ok;
    },
    proxy_replace_header_map_value(type: number, kPtr: number, kSize: number, vPtr: number, vSize: number) {
      if (word(type) > BigInt(HeaderMapType.MAX)) return R.BadArgument;
      const key = mem().string(kPtr, kSize),
        value = mem().string(vPtr, vSize);
      if (key === null || value === null) return R.InvalidMemoryAccess;
      const map = ctx().getMap(type);
      if (!map) return R.BadArgument;
      map.set(key, value);
      return R.Ok;
    },
    proxy_remove_header_map_value(type: number, kPtr: number, kSize: number) {
      if (word(type) > BigInt(HeaderMapType.MAX)) return R.BadArgument;
      const key = mem().string(kPtr, kSize);
      if (key === null) return R.InvalidMemoryAccess;
      const map = ctx().getMap(type);
      if (!map) return R.BadArgument;
      map.remove(key);
      return R.Ok;
    },
    proxy_get_header_map_size(type: number, ptr: number) {
      if (word(type) > BigInt(HeaderMapType.MAX)) return R.BadArgument;
      const map = ctx().getMap(type);
      if (!map) return R.BadArgument;
      return mem().setU32(ptr, map.byteSize) ? R.Ok : R.InvalidMemoryAccess;
    },
  };
}

/** proxy-wasm imports: buffers (bodies, configuration, call results). */
function bufferFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const ctx = () => vm.effectiveContext();
  const R = WasmResult;
  return {
    proxy_get_buffer_bytes(type: number, start: number, length: number, ptrPtr: number, sizePtr: number) {
      if (word(type) > BigInt(BufferType.MAX)) return R.BadArgument;
      const buf = ctx().getBuffer(type);
      if (!buf) return R.NotFound;
      const s = word(start);
      let len = word(length);
      if (s + len > U64_MAX) return R.BadArgument; // "Check for overflow."
      const size = BigInt(buf.size());
      // "Don't overread." (current cpp-host: start past the end reads as empty)
      if (s > size) len = 0n;
      else if (s + len > size) len = size - s;
      if (len === 0n) {
        if (!mem().setU32(ptrPtr, 0) || !mem().setU32(sizePtr, 0)) return R.InvalidMemoryAccess;
        return R.Ok;
      }
      const bytes = buf.copyOut(Number(s), Number(len));
      return vm.copyToPointerSize(bytes, ptrPtr, sizePtr) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_get_buffer_status(type: number, lenPtr: number, flagsPtr: number) {
      if (word(type) > BigInt(BufferType.MAX)) return R.BadArgument;
      const buf = ctx().getBuffer(type);
      if (!buf) return R.NotFound;
      if (!mem().setU32(lenPtr, buf.size())) return R.InvalidMemoryAccess;
      return mem().setU32(flagsPtr, 0) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_set_buffer_bytes(type: number, start: number, length: number, dPtr: number, dSize: number) {
      if (word(type) > BigInt(BufferType.MAX)) return R.BadArgument;
      const buf = ctx().getBuffer(type);
      if (!buf) return R.NotFound;
      const data = mem().copy(dPtr, dSize);
      if (!data) return R.InvalidMemoryAccess;
      const s = word(start),
        l = word(length);
      // copyFrom compares size_t values; clamp the 64-bit words into JS numbers safely.
      const toNum = (w: bigint) => (w > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(w));
      return buf.copyFrom(toNum(s), toNum(l), data);
    },
  };
}

/** proxy-wasm imports: outbound HTTP and gRPC calls. */
function outboundCallFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const R = WasmResult;
  return {
    proxy_http_call(
      _uPtr: number,
      _uSize: number,
      _hPtr: number,
      _hSize: number,
      _bPtr: number,
      _bSize: number,
      _tPtr: number,
      _tSize: number,
      _timeout: number,
      tokenPtr: number,
    ) {
      // No cluster exists in this host: Context::httpCall → getThreadLocalCluster == nullptr.
      if (!mem().setU32(tokenPtr, 0)) return R.InvalidMemoryAccess;
      return R.BadArgument;
    },
    proxy_grpc_call() {
      return R.ParseFailure;
    },
    proxy_grpc_stream() {
      return R.ParseFailure;
    },
    proxy_grpc_cancel() {
      return R.NotFound;
    },
    proxy_grpc_close() {
      return R.NotFound;
    },
    proxy_grpc_send() {
      return R.NotFound;
    },
  };
}

/** proxy-wasm imports: metrics. */
function metricFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const R = WasmResult;
  return {
    proxy_define_metric(type: number, nPtr: number, nSize: number, idPtr: number) {
      const name = mem().string(nPtr, nSize);
      if (name === null) return R.InvalidMemoryAccess;
      const r = vm.metricIds.define(type >>> 0, name);
      if (r.result !== R.Ok) return r.result;
      return mem().setU32(idPtr, r.id!) ? R.Ok : R.InvalidMemoryAccess;
    },
    proxy_increment_metric(id: number, offset: bigint) {
      return vm.metricIds.increment(id >>> 0, BigInt.asIntN(64, BigInt(offset)));
    },
    proxy_record_metric(id: number, value: bigint) {
      return vm.metricIds.record(id >>> 0, BigInt.asUintN(64, BigInt(value)));
    },
    proxy_get_metric(id: number, ptr: number) {
      const r = vm.metricIds.get(id >>> 0);
      if (r.result !== R.Ok) return r.result;
      return mem().setU64(ptr, r.value!) ? R.Ok : R.InvalidMemoryAccess;
    },
  };
}

/** proxy-wasm imports: contexts and foreign functions. */
function contextFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  const R = WasmResult;
  function writeEmptyResults(rPtrPtr: number, rSizePtr: number): number {
    if (rPtrPtr && !mem().setU32(rPtrPtr, 0)) return R.InvalidMemoryAccess;
    if (rSizePtr && !mem().setU32(rSizePtr, 0)) return R.InvalidMemoryAccess;
    return R.Ok;
  }
  return {
    proxy_set_effective_context(id: number) {
      return vm.setEffectiveContext(id >>> 0);
    },
    proxy_done() {
      // WasmBase::done: NotFound unless the root context deferred its onDone (never here).
      return R.NotFound;
    },
    proxy_call_foreign_function(nPtr: number, nSize: number, aPtr: number, aSize: number, rPtrPtr: number, rSizePtr: number) {
      const name = mem().string(nPtr, nSize);
      const args = mem().copy(aPtr, aSize);
      if (name === null || !args) return R.InvalidMemoryAccess;
      if (name === "declare_property") {
        // source/extensions/common/wasm/foreign.cc: parse DeclarePropertyArguments and declare
        // the prototype on the root context; a second declaration is BadArgument.
        const d = decodeDeclareProperty(args);
        if (!d) return R.BadArgument;
        const r = vm.declareProperty(d.name, d);
        if (r !== R.Ok) return r;
        return writeEmptyResults(rPtrPtr, rSizePtr);
      }
      const f = vm.foreignFunctions.get(name);
      if (!f) return R.NotFound;
      const res = f(args);
      if (res.result === R.Ok && res.value) {
        if (rPtrPtr && !vm.copyToPointerSize(res.value, rPtrPtr, rSizePtr)) return R.InvalidMemoryAccess;
        return R.Ok;
      }
      return res.result;
    },
  };
}

/** What Emscripten-built modules import besides proxy-wasm. */
const EMSCRIPTEN_FUNCTIONS: Record<string, Fn> = {
  emscripten_notify_memory_growth() {},
  pthread_equal(a: number, b: number) {
    return a === b ? 1 : 0;
  },
};

/** The WASI subset Envoy provides (cpp-host exports.cc). */
function wasiFunctions(vm: ImportsVm): Record<string, Fn> {
  const mem = () => vm.mem;
  return {
    fd_write(fd: number, iovs: number, iovsLen: number, nwrittenPtr: number) {
      // writevImpl: fd 1 → info, fd 2 → error, trailing newline removed.
      let level: number;
      if (fd === 1) level = LogLevel.info;
      else if (fd === 2) level = LogLevel.error;
      else return WasiErrno.BADF;
      const parts: Uint8Array[] = [];
      let total = 0;
      for (let i = 0; i < iovsLen >>> 0; i++) {
        const buf = mem().getU32(iovs + i * 8),
          len = mem().getU32(iovs + i * 8 + 4);
        if (buf === null || len === null) return WasiErrno.FAULT;
        if (len) {
          const slice = mem().copy(buf, len);
          if (!slice) return WasiErrno.FAULT;
          parts.push(slice);
          total += len;
        }
      }
      if (total) {
        let s = new TextDecoder().decode(concat(parts, total));
        if (s.endsWith("\n")) s = s.slice(0, -1);
        vm.log(level, s);
      }
      return mem().setU32(nwrittenPtr, total) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    fd_read() {
      return WasiErrno.NOSYS;
    },
    fd_seek() {
      vm.log(LogLevel.trace, "wasi_unstable fd_seek");
      return WasiErrno.SUCCESS;
    },
    fd_close() {
      vm.log(LogLevel.trace, "wasi_unstable fd_close");
      return WasiErrno.SUCCESS;
    },
    fd_fdstat_get(fd: number, statOut: number) {
      if (fd !== 1 && fd !== 2) return WasiErrno.BADF;
      const stat = new Uint8Array(24);
      new DataView(stat.buffer).setBigUint64(8, 64n, true); // fs_rights_base = FD_WRITE
      mem().set(statOut, stat);
      return WasiErrno.SUCCESS;
    },
    fd_prestat_get() {
      return WasiErrno.BADF;
    },
    fd_prestat_dir_name() {
      return WasiErrno.NOSYS;
    },
    environ_get(environPtr: number, environBuf: number) {
      let p = environPtr >>> 0,
        b = environBuf >>> 0;
      for (const [k, v] of Object.entries(vm.env)) {
        if (!mem().setU32(p, b)) return WasiErrno.FAULT;
        const data = enc.encode(`${k}=${v}\0`);
        if (!mem().set(b, data)) return WasiErrno.FAULT;
        b += data.length;
        p += 4;
      }
      return WasiErrno.SUCCESS;
    },
    environ_sizes_get(countPtr: number, sizePtr: number) {
      const entries = Object.entries(vm.env);
      if (!mem().setU32(countPtr, entries.length)) return WasiErrno.FAULT;
      let size = 0;
      for (const [k, v] of entries) size += enc.encode(k).length + enc.encode(v).length + 2;
      return mem().setU32(sizePtr, size) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    args_get() {
      return WasiErrno.SUCCESS;
    },
    args_sizes_get(argcPtr: number, bufSizePtr: number) {
      if (!mem().setU32(argcPtr, 0) || !mem().setU32(bufSizePtr, 0)) return WasiErrno.FAULT;
      return WasiErrno.SUCCESS;
    },
    clock_time_get(id: number, _precision: bigint, outPtr: number) {
      if (id !== 0) return WasiErrno.NOTSUP; // realtime only
      return mem().setU64(outPtr, vm.now()) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    random_get(ptr: number, len: number) {
      const bytes = new Uint8Array(len >>> 0);
      globalThis.crypto.getRandomValues(bytes);
      return mem().set(ptr, bytes) ? WasiErrno.SUCCESS : WasiErrno.FAULT;
    },
    proc_exit(code: number) {
      throw new ProcExit(code | 0);
    },
    path_open() {
      return WasiErrno.NOENT; // exports.cc: no files
    },
  };
}

export function hostFunctions(vm: ImportsVm): Record<string, Record<string, Fn>> {
  const env: Record<string, Fn> = {
    ...logAndClockFunctions(vm),
    ...streamControlFunctions(vm),
    ...sharedDataFunctions(vm),
    ...headerMapFunctions(vm),
    ...bufferFunctions(vm),
    ...outboundCallFunctions(vm),
    ...metricFunctions(vm),
    ...contextFunctions(vm),
    ...EMSCRIPTEN_FUNCTIONS,
  };
  const wasi = wasiFunctions(vm);
  return { env, wasi_snapshot_preview1: wasi, wasi_unstable: wasi };
}

function concat(parts: Uint8Array[], total: number): Uint8Array {
  const out = new Uint8Array(total);
  let p = 0;
  for (const x of parts) {
    out.set(x, p);
    p += x.length;
  }
  return out;
}

// What cpp-host registers (src/wasm.cc WasmBase::registerCallbacks; the lists are
// include/proxy-wasm/exports.h): the common `env` list for every ABI, the ABI-specific
// functions of the module's own ABI only, two emscripten helpers, and the WASI list under both
// WASI module names. Anything else is a missing import, and Envoy refuses the module.
const COMMON_ENV = [
  "log",
  "get_status",
  "set_property",
  "get_property",
  "send_local_response",
  "get_shared_data",
  "set_shared_data",
  "register_shared_queue",
  "resolve_shared_queue",
  "dequeue_shared_queue",
  "enqueue_shared_queue",
  "get_header_map_value",
  "add_header_map_value",
  "replace_header_map_value",
  "remove_header_map_value",
  "get_header_map_pairs",
  "set_header_map_pairs",
  "get_header_map_size",
  "get_buffer_status",
  "get_buffer_bytes",
  "set_buffer_bytes",
  "http_call",
  "grpc_call",
  "grpc_stream",
  "grpc_close",
  "grpc_cancel",
  "grpc_send",
  "set_tick_period_milliseconds",
  "get_current_time_nanoseconds",
  "define_metric",
  "increment_metric",
  "record_metric",
  "get_metric",
  "set_effective_context",
  "done",
  "call_foreign_function",
].map((n) => `proxy_${n}`);
const ABI_SPECIFIC_ENV: Record<string, string[]> = {
  proxy_abi_version_0_1_0: ["get_configuration", "continue_request", "continue_response", "clear_route_cache"],
  proxy_abi_version_0_2_0: ["continue_stream", "close_stream"],
  proxy_abi_version_0_2_1: ["continue_stream", "close_stream", "get_log_level"],
};
const EMSCRIPTEN_ENV = ["pthread_equal", "emscripten_notify_memory_growth"];
const WASI = [
  "fd_write",
  "fd_read",
  "fd_seek",
  "fd_close",
  "fd_fdstat_get",
  "environ_get",
  "environ_sizes_get",
  "args_get",
  "args_sizes_get",
  "clock_time_get",
  "random_get",
  "proc_exit",
  "path_open",
  "fd_prestat_get",
  "fd_prestat_dir_name",
];

/** The ABI a module declares by its `proxy_abi_version_*` export, as cpp-host's
 * BytecodeUtil::getAbiVersion reads it; null when it declares none that Envoy knows. */
export function abiVersionOf(module: WebAssembly.Module): string | null {
  const names = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  return Object.keys(ABI_SPECIFIC_ENV).find((n) => names.has(n)) ?? null;
}

/** `module.name` of every host function Envoy registers for a module of ABI `abi`. */
export function registeredImports(abi: string): Set<string> {
  const env = [...COMMON_ENV, ...(ABI_SPECIFIC_ENV[abi] ?? []).map((n) => `proxy_${n}`), ...EMSCRIPTEN_ENV];
  return new Set([...env.map((n) => `env.${n}`), ...WASI.flatMap((n) => [`wasi_unstable.${n}`, `wasi_snapshot_preview1.${n}`])]);
}

/** Builds the import object for exactly what `module` imports; throws, as Envoy fails the load,
 * on an import that Envoy does not register for the module's ABI. */
export function buildImports(vm: ImportsVm, module: WebAssembly.Module): WebAssembly.Imports {
  const table = hostFunctions(vm);
  const registered = registeredImports(abiVersionOf(module) ?? "");
  const out: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const imp of WebAssembly.Module.imports(module)) {
    const known = registered.has(`${imp.module}.${imp.name}`);
    const fn = imp.kind === "function" && known ? table[imp.module]?.[imp.name] : undefined;
    if (!fn) throw new Error(`Failed to load Wasm module due to a missing import: ${imp.module}.${imp.name}`);
    const qualified = `${imp.module}.${imp.name}`;
    const allowed = ALLOWED_WHILE_RESTRICTED.has(qualified);
    (out[imp.module] ??= {})[imp.name] = allowed
      ? (fn as (...a: unknown[]) => unknown)
      : (...args: unknown[]) => {
          if (vm.restricted) throw new RestrictedCall(qualified);
          if (vm.hostCallCounts) vm.hostCallCounts.set(imp.name, (vm.hostCallCounts.get(imp.name) ?? 0) + 1);
          const fault = vm.hostCallFaults.get(imp.name);
          if (fault !== undefined) return fault;
          return (fn as (...a: unknown[]) => unknown)(...args);
        };
  }
  return out;
}
