// Benchmark baseline: the no-op filter (same SDK, same root-context and stream bookkeeping) plus
// ONE kind of proxy-wasm host call, made a configured number of times per request, at the place
// the filter makes it, through the filter's own wrappers (assembly/envoy.ts). In real Envoy, the
// CPU per request against the call count is what one such call costs (bench/envoy-host-calls.ts).
// The plugin configuration is `<kind>=<count>` ("" or "none=0": no calls at all):
//   get_header=N         on_request_headers: N request-header reads (proxy_get_header_map_value)
//                        cycling through names every request carries (:method, :path, ...), the
//                        value decoded to a string (assembly/envoy.ts headerValue)
//   get_header_absent=N  the same for names the request does not carry (content-encoding, ...):
//                        the host answers NotFound, nothing is copied into the module
//   get_header_pairs=N   on_request_headers: N reads of the whole request map in one call
//                        (proxy_get_header_map_pairs), walked in place (no string per header)
//   set_property=N       at the response's end: N filter-state writes (proxy_set_property, Envoy
//                        stores `wasm.<key>`) with the filter's own keys, then more of the same
//                        form (distinct for N <= 128, then cycling), and short decimal values
//                        (telemetry/publish.ts setCount)
//   get_property=N       on_request_headers: N reads of `xds.listener_direction` (proxy_get_property:
//                        the filter's one property read per LLM call, identity/attribution.ts)
//   clock=N              on_request_headers: N reads of the host clock (proxy_get_current_time_nanoseconds)
//   increment_metric=N   at the response's end: N increments of one counter defined once per VM
//   record_metric=N      at the response's end: N values into one histogram defined once per VM
//   get_buffer=N         on_response_body (first chunk with bytes): N reads of the whole chunk
//                        (proxy_get_buffer_bytes into the lent scratch block: envoy.ts readBuffer)
// "At the response's end" is on_response_body with end_of_stream (or on_log when the response
// ended otherwise), as the filter's endResponse.
export * from "@solo-io/proxy-runtime/assembly/proxy";
import {
  RootContext, Context, registerRootContext, FilterHeadersStatusValues, FilterDataStatusValues,
} from "@solo-io/proxy-runtime/assembly";
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { free } from "@solo-io/proxy-runtime/assembly/malloc";
import {
  Buffer, HeaderMap, MetricType, defineMetric, getProperty, headerValue, incrementCounter, nowNanoseconds, readBuffer,
  recordHistogram, setFilterStateRaw, OK,
} from "../../assembly/envoy";

const enum Kind { None, GetHeader, GetHeaderAbsent, GetHeaderPairs, SetProperty, GetProperty, Clock, IncrementMetric, RecordMetric, GetBuffer }

const KIND_NAMES: string[] = [
  "none", "get_header", "get_header_absent", "get_header_pairs", "set_property", "get_property", "clock", "increment_metric", "record_metric",
  "get_buffer",
];

// What this VM does (one configuration per VM: each variant of the bench is its own Envoy).
let kind: Kind = Kind.None;
let count: i32 = 0;
let counterId: i64 = -1;
let histogramId: i64 = -1;

// Request headers every request of the bench carries (wrk's, and those Envoy's connection
// manager adds before the filter chain), UTF-8 encoded once as the filter encodes its names.
const PRESENT: ArrayBuffer[] = [
  String.UTF8.encode(":method"),
  String.UTF8.encode(":path"),
  String.UTF8.encode(":authority"),
  String.UTF8.encode("content-type"),
  String.UTF8.encode(":scheme"),
  String.UTF8.encode("content-length"),
  String.UTF8.encode("x-forwarded-proto"),
  String.UTF8.encode("x-request-id"),
];
// Names the filter reads that such a request does not carry.
const ABSENT: ArrayBuffer[] = [
  String.UTF8.encode("content-encoding"),
  String.UTF8.encode("accept-encoding"),
  String.UTF8.encode("x-dashscope-sse"),
  String.UTF8.encode("accept"),
  String.UTF8.encode("x-amzn-errortype"),
  String.UTF8.encode("authorization"),
  String.UTF8.encode("x-api-key"),
  String.UTF8.encode("x-goog-api-key"),
];

// The filter's filter-state keys (telemetry/publish.ts), those a small chat call sets first.
const KEYS: ArrayBuffer[] = [
  String.UTF8.encode("asm.llmproxy.request_model"),
  String.UTF8.encode("asm.llmproxy.request_model_label"),
  String.UTF8.encode("asm.llmproxy.request_stream"),
  String.UTF8.encode("asm.llmproxy.response_model"),
  String.UTF8.encode("asm.llmproxy.request_duration_ms"),
  String.UTF8.encode("asm.llmproxy.request_prompt_tokens"),
  String.UTF8.encode("asm.llmproxy.request_completion_tokens"),
  String.UTF8.encode("asm.llmproxy.request_total_tokens"),
  String.UTF8.encode("asm.llmproxy.request_cached_tokens"),
  String.UTF8.encode("asm.llmproxy.request_cache_write_tokens"),
  String.UTF8.encode("asm.llmproxy.request_reasoning_tokens"),
  String.UTF8.encode("asm.llmproxy.request_audio_seconds"),
  String.UTF8.encode("asm.llmproxy.time_to_first_token_ms"),
  String.UTF8.encode("asm.llmproxy.time_per_output_token_ms"),
  String.UTF8.encode("asm.llmproxy.request_cost"),
  String.UTF8.encode("asm.llmproxy.request_cost_currency"),
  String.UTF8.encode("asm.llmproxy.usage_skipped"),
];
/** Keys after the filter's own: more distinct filter-state entries, for counts above 17. */
const MORE_KEYS = 111;
for (let i = 0; i < MORE_KEYS; i++) KEYS.push(String.UTF8.encode("asm.llmproxy.bench_key_" + i.toString()));

/** The property path the filter reads per LLM call (identity/attribution.ts listenerDirection). */
const DIRECTION: string[] = ["xds", "listener_direction"];

/** Values decoded (kept so the reads are not optimized away). */
export let seen: i64 = 0;

const DIGITS: usize = memory.data(24);

/** A count as decimal filter state, written without allocating (telemetry/publish.ts setCount). */
function setCount(key: ArrayBuffer, value: i64): void {
  let end = DIGITS + 24;
  let p = end;
  do {
    p--;
    store<u8>(p, <u8>(0x30 + <i32>(value % 10)));
    value /= 10;
  } while (value > 0);
  setFilterStateRaw(key, p, <i32>(end - p));
}

const OUT: usize = memory.data(16, 8);

/** One read of the whole request map: the serialized pairs (u32 count, count × (u32 name size,
 *  u32 value size), then each name and value NUL-terminated) walked in place. */
function readPairs(): void {
  store<usize>(OUT, 0);
  store<usize>(OUT + 8, 0);
  if (imports.proxy_get_header_map_pairs(HeaderMap.Request, OUT, OUT + 8) != OK) return;
  const ptr = load<usize>(OUT);
  const size = load<usize>(OUT + 8);
  if (ptr == 0 || size < 4) return;
  const buffer = changetype<ArrayBuffer>(ptr);
  free(ptr); // the local reference keeps it alive from here on (envoy.ts takeReturned)
  const n = load<u32>(ptr);
  let sizes = ptr + 4;
  let at = sizes + <usize>n * 8;
  for (let i: u32 = 0; i < n && at < ptr + size; i++) {
    const nameSize = load<u32>(sizes);
    const valueSize = load<u32>(sizes + 4);
    seen += <i64>load<u8>(at) + <i64>valueSize; // the name's first byte, the value's size
    at += <usize>nameSize + 1 + <usize>valueSize + 1;
    sizes += 8;
  }
  seen += <i64>buffer.byteLength;
}

function atResponseEnd(): void {
  if (kind == Kind.SetProperty) {
    for (let i = 0; i < count; i++) setCount(unchecked(KEYS[i % KEYS.length]), <i64>(12 + i));
  } else if (kind == Kind.IncrementMetric) {
    for (let i = 0; i < count; i++) incrementCounter(<u32>counterId, 1);
  } else if (kind == Kind.RecordMetric) {
    for (let i = 0; i < count; i++) recordHistogram(<u32>histogramId, <i64>(20 + i));
  }
}

class HostCallsRoot extends RootContext {
  createContext(context_id: u32): Context {
    return new HostCallsStream(context_id, this);
  }

  onConfigure(configuration_size: u32): bool {
    if (!super.onConfigure(configuration_size)) return false;
    const text = this.getConfiguration().trim();
    if (text.length == 0) return true;
    const eq = text.indexOf("=");
    const name = eq < 0 ? text : text.substring(0, eq);
    const k = KIND_NAMES.indexOf(name);
    if (k < 0) return false;
    kind = <Kind>k;
    count = eq < 0 ? 1 : I32.parseInt(text.substring(eq + 1));
    if (count < 0) return false;
    if (kind == Kind.IncrementMetric && counterId < 0) counterId = defineMetric(MetricType.Counter, "asm_llm_proxy_bench_host_calls");
    if (kind == Kind.RecordMetric && histogramId < 0) histogramId = defineMetric(MetricType.Histogram, "asm_llm_proxy_bench_host_calls_ms");
    return (kind != Kind.IncrementMetric || counterId >= 0) && (kind != Kind.RecordMetric || histogramId >= 0);
  }
}

class HostCallsStream extends Context {
  private ended: bool = false;
  private bodyRead: bool = false;

  onRequestHeaders(_headers: u32, _end_of_stream: bool): FilterHeadersStatusValues {
    if (kind == Kind.GetHeader) {
      for (let i = 0; i < count; i++) {
        const v = headerValue(HeaderMap.Request, unchecked(PRESENT[i % PRESENT.length]));
        if (v !== null) seen += v.length;
      }
    } else if (kind == Kind.GetHeaderAbsent) {
      for (let i = 0; i < count; i++) {
        const v = headerValue(HeaderMap.Request, unchecked(ABSENT[i % ABSENT.length]));
        if (v !== null) seen += v.length;
      }
    } else if (kind == Kind.GetHeaderPairs) {
      for (let i = 0; i < count; i++) readPairs();
    } else if (kind == Kind.GetProperty) {
      for (let i = 0; i < count; i++) {
        const v = getProperty(DIRECTION);
        if (v !== null) seen += v.byteLength;
      }
    } else if (kind == Kind.Clock) {
      for (let i = 0; i < count; i++) seen += nowNanoseconds() & 1;
    }
    return FilterHeadersStatusValues.Continue;
  }

  onResponseBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    if (kind == Kind.GetBuffer && !this.bodyRead && body_buffer_length > 0) {
      this.bodyRead = true;
      for (let i = 0; i < count; i++) seen += readBuffer(Buffer.ResponseBody, 0, <u32>body_buffer_length).length;
    }
    if (end_of_stream && !this.ended) {
      this.ended = true;
      atResponseEnd();
    }
    return FilterDataStatusValues.Continue;
  }

  onLog(): void {
    if (!this.ended) {
      this.ended = true;
      atResponseEnd();
    }
  }
}

registerRootContext((context_id: u32) => new HostCallsRoot(context_id), "");
registerRootContext((context_id: u32) => new HostCallsRoot(context_id), "asm-llm-proxy");
