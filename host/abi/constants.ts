// proxy-wasm ABI 0.2.x constants, as proxy-wasm-cpp-host (include/proxy-wasm/wasm_api_impl.h,
// context_interface.h) and @solo-io/proxy-runtime (assembly/runtime.ts) number them.

export const WasmResult = {
  Ok: 0,
  NotFound: 1,
  BadArgument: 2,
  SerializationFailure: 3,
  ParseFailure: 4,
  BadExpression: 5,
  InvalidMemoryAccess: 6,
  Empty: 7,
  CasMismatch: 8,
  ResultMismatch: 9,
  InternalFailure: 10,
  BrokenConnection: 11,
  Unimplemented: 12,
} as const;
export type WasmResultCode = (typeof WasmResult)[keyof typeof WasmResult];

export const FilterHeadersStatus = {
  Continue: 0,
  StopIteration: 1,
  ContinueAndEndStream: 2,
  StopAllIterationAndBuffer: 3,
  StopAllIterationAndWatermark: 4,
} as const;

export const FilterDataStatus = {
  Continue: 0,
  StopIterationAndBuffer: 1,
  StopIterationAndWatermark: 2,
  StopIterationNoBuffer: 3,
} as const;

export const FilterTrailersStatus = { Continue: 0, StopIteration: 1 } as const;

/** What an HttpStream send* method returns when the filter was not called at all
 * (stream already answered, VM failed with FAIL_OPEN, data held by Envoy while stopped...). */
export const NOT_CALLED = -1;
export type FilterAction = number;

export const HeaderMapType = {
  RequestHeaders: 0,
  RequestTrailers: 1,
  ResponseHeaders: 2,
  ResponseTrailers: 3,
  GrpcReceiveInitialMetadata: 4,
  GrpcReceiveTrailingMetadata: 5,
  HttpCallResponseHeaders: 6,
  HttpCallResponseTrailers: 7,
  MAX: 7,
} as const;

export const BufferType = {
  HttpRequestBody: 0,
  HttpResponseBody: 1,
  NetworkDownstreamData: 2,
  NetworkUpstreamData: 3,
  HttpCallResponseBody: 4,
  GrpcReceiveBuffer: 5,
  VmConfiguration: 6,
  PluginConfiguration: 7,
  CallData: 8,
  MAX: 8,
} as const;

export const MetricType = { Counter: 0, Gauge: 1, Histogram: 2, MAX: 2 } as const;

export const StreamType = { Request: 0, Response: 1, Downstream: 2, Upstream: 3, MAX: 3 } as const;

export const LogLevel = { trace: 0, debug: 1, info: 2, warn: 3, error: 4, critical: 5, MAX: 5 } as const;

// WASI errno values used by proxy-wasm-cpp-host src/exports.cc.
export const WasiErrno = { SUCCESS: 0, BADF: 8, FAULT: 21, NOENT: 44, NOSYS: 52, NOTSUP: 58, INVAL: 28 } as const;
