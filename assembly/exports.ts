// The proxy-wasm exports: the SDK's, less the callbacks for features this filter never uses,
// which a host only calls after the module asked for them, and for which it looks the export up
// as optional (proxy-wasm-cpp-host: getFunction, null when absent), so the SDK code behind them
// is dropped (~1 KB): proxy_on_http_call_response and proxy_on_grpc_* (no proxy_http_call /
// proxy_grpc_* import), proxy_on_queue_ready (no shared queue), proxy_on_foreign_function (none
// registered), proxy_on_request_metadata / proxy_on_response_metadata (Envoy never calls them).
//
// The module keeps AssemblyScript's incremental collector. The "minimal" runtime (no shadow
// stack, no write barriers, a collection at the end of outermost calls) made the module 35 KB
// smaller, but in real Envoy its memory kept growing with large request bodies: 10 MB requests
// took the sidecar from 85 MiB to 293 MiB and still growing, against a plateau of 133 MiB with
// the incremental collector (bench/RESULTS-envoy.md).
export { malloc, free } from "@solo-io/proxy-runtime/assembly/malloc";
export {
  proxy_abi_version_0_2_0,
  proxy_on_vm_start,
  proxy_validate_configuration,
  proxy_on_configure,
  proxy_on_tick,
  proxy_on_context_create,
  proxy_on_request_headers,
  proxy_on_request_body,
  proxy_on_request_trailers,
  proxy_on_response_headers,
  proxy_on_response_body,
  proxy_on_response_trailers,
  proxy_on_done,
  proxy_on_log,
  proxy_on_delete,
} from "@solo-io/proxy-runtime/assembly/exports";
