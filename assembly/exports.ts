// The proxy-wasm exports: the SDK's, each followed by the garbage collection policy.
//
// The module is built with AssemblyScript's "minimal" runtime (asconfig.json): a two-colour
// mark & sweep that never runs by itself and does not scan the wasm stack, instead of the
// incremental collector, whose shadow stack (spills in every function holding a reference) and
// write barriers (every store of a reference) made up ~40 KB of the module: 112.5 KB → 72.8 KB
// at the same optimisation level (bench/RESULTS.md, size knobs). Without a stack
// scan, a collection is only safe when no managed reference lives in a wasm local, i.e. when
// the host's call into the module has returned to its outermost frame: so it runs here, at the
// end of an outermost call, never inside malloc/free (the host calls those from within calls).
//
// Bound: a collection every COLLECT_EVERY outermost calls, and at the end of any call during
// which linear memory grew. Garbage is then at most what COLLECT_EVERY calls leave (the body
// chunks are read into a lent scratch block, envoy.ts, so a call leaves little), and memory
// stops growing once it holds the live data plus that; live data is bounded by the filter's
// own limits (pools, budgets). A collection marks the whole live heap, so it is amortised over
// many calls rather than paid per call.
import * as sdk from "@solo-io/proxy-runtime/assembly/exports";
export { malloc, free } from "@solo-io/proxy-runtime/assembly/malloc";
// Not exported (and so the SDK code behind them is dropped, ~1 KB): callbacks for features this
// filter never uses, which a host only calls after the module asked for them, and for which it
// looks the export up as optional (proxy-wasm-cpp-host: getFunction, null when absent):
// proxy_on_http_call_response and proxy_on_grpc_* (no proxy_http_call / proxy_grpc_* import),
// proxy_on_queue_ready (no shared queue), proxy_on_foreign_function (none registered),
// proxy_on_request_metadata / proxy_on_response_metadata (Envoy never calls them).

/** Outermost calls between collections. */
const COLLECT_EVERY = 256;

/** Nesting of calls into the module (a host could call in again from inside an import; Envoy
 *  defers such work until the call returns, but nothing here relies on it). */
let depth = 0;
let calls = 0;
let pagesAtCollect: i32 = 0;

// @ts-ignore: decorator
@inline
function enter(): void {
  depth++;
}

/** The end of a call: at the outermost one, collect when due. */
function leave(): void {
  if (--depth != 0) return;
  const pages = memory.size();
  if (++calls < COLLECT_EVERY && pages == pagesAtCollect) return;
  calls = 0;
  __collect();
  pagesAtCollect = memory.size();
}

export function proxy_abi_version_0_2_0(): void {}

export function proxy_on_vm_start(root_context_id: u32, configuration_size: u32): u32 {
  enter();
  const r = sdk.proxy_on_vm_start(root_context_id, configuration_size);
  leave();
  return r;
}
export function proxy_validate_configuration(root_context_id: u32, configuration_size: u32): u32 {
  enter();
  const r = sdk.proxy_validate_configuration(root_context_id, configuration_size);
  leave();
  return r;
}
export function proxy_on_configure(root_context_id: u32, configuration_size: u32): u32 {
  enter();
  const r = sdk.proxy_on_configure(root_context_id, configuration_size);
  leave();
  return r;
}
export function proxy_on_tick(root_context_id: u32): void {
  enter();
  sdk.proxy_on_tick(root_context_id);
  leave();
}
export function proxy_on_context_create(context_id: u32, root_context_id: u32): void {
  enter();
  sdk.proxy_on_context_create(context_id, root_context_id);
  leave();
}
export function proxy_on_request_headers(context_id: u32, headers: u32, end_of_stream: u32): i32 {
  enter();
  const r = sdk.proxy_on_request_headers(context_id, headers, end_of_stream);
  leave();
  return r;
}
export function proxy_on_request_body(context_id: u32, body_buffer_length: u32, end_of_stream: u32): i32 {
  enter();
  const r = sdk.proxy_on_request_body(context_id, body_buffer_length, end_of_stream);
  leave();
  return r;
}
export function proxy_on_request_trailers(context_id: u32, trailers: u32): i32 {
  enter();
  const r = sdk.proxy_on_request_trailers(context_id, trailers);
  leave();
  return r;
}
export function proxy_on_response_headers(context_id: u32, headers: u32, end_of_stream: u32): i32 {
  enter();
  const r = sdk.proxy_on_response_headers(context_id, headers, end_of_stream);
  leave();
  return r;
}
export function proxy_on_response_body(context_id: u32, body_buffer_length: u32, end_of_stream: u32): i32 {
  enter();
  const r = sdk.proxy_on_response_body(context_id, body_buffer_length, end_of_stream);
  leave();
  return r;
}
export function proxy_on_response_trailers(context_id: u32, trailers: u32): i32 {
  enter();
  const r = sdk.proxy_on_response_trailers(context_id, trailers);
  leave();
  return r;
}
export function proxy_on_done(context_id: u32): u32 {
  enter();
  const r = sdk.proxy_on_done(context_id);
  leave();
  return r;
}
export function proxy_on_log(context_id: u32): void {
  enter();
  sdk.proxy_on_log(context_id);
  leave();
}
export function proxy_on_delete(context_id: u32): void {
  enter();
  sdk.proxy_on_delete(context_id);
  leave();
}
