// One HTTP stream through the wasm filter, with Envoy's semantics:
// - source/extensions/common/wasm/context.cc (Context::decodeHeaders/decodeData/encode*,
//   getMap/getConstMap/getBuffer, continueStream, sendLocalResponse, failStream, log);
// - proxy-wasm-cpp-host src/context.cc (CHECK_FAIL_HTTP before and after every callback,
//   StopIteration from headers → StopAllIterationAndWatermark, data status > 3 → NoBuffer);
// - source/common/http/filter_manager.cc for the one filter + router chain modelled here
//   (buffering, commonContinue, buffer limit → 413/500/reset, local replies).
import {
  FilterDataStatus,
  FilterHeadersStatus,
  FilterTrailersStatus,
  BufferType,
  HeaderMapType,
  NOT_CALLED,
  StreamType,
  WasmResult,
  type FilterAction,
  type WasmResultCode,
} from "../abi/constants";
import { Buf, ConstBuf, HostContext, type BufferRef, type LocalReplyRequest } from "../abi/context";
import { HeaderMap, type HeaderList } from "./headers";
import { FilterState, type CelStatePrototype, type FilterStateEntry } from "./filter-state";
import type { PropertySource, StreamInfo, StreamPropertySource } from "./properties";
import type { AccessLogContext } from "./access-log";

const enc = new TextEncoder();

/** What a stream needs from the VM it runs in. abi/vm.ts's WasmVm provides it; the stream names
 *  only this much, so the VM can create streams without the two modules importing each other. */
export interface StreamVm {
  readonly failed: boolean;
  readonly failStrategy: "FAIL_CLOSE" | "FAIL_OPEN";
  readonly bufferLimitBytes: number;
  readonly vmConfig: Uint8Array;
  readonly rootContextId: number;
  readonly now: () => bigint;
  callExport(ctx: HostContext, name: string, ...args: number[]): number | undefined;
  addAfterVmCallAction(f: () => void): void;
  forgetContext(id: number): void;
  propertySource(stream: PropertySource["stream"]): PropertySource;
  prototypeFor(path: string): CelStatePrototype;
}

export interface Sink {
  headers: HeaderList | null;
  bodyChunks: Uint8Array[];
  trailers: HeaderList | null;
  endOfStream: boolean;
  body(): Uint8Array;
}

function sink(): Sink {
  return {
    headers: null,
    bodyChunks: [],
    trailers: null,
    endOfStream: false,
    body() {
      let n = 0;
      for (const c of this.bodyChunks) n += c.length;
      const out = new Uint8Array(n);
      let p = 0;
      for (const c of this.bodyChunks) {
        out.set(c, p);
        p += c.length;
      }
      return out;
    },
  };
}

export interface LocalReply {
  status: number;
  body: string;
  headers: [string, string][];
  details: string;
}

/** cpp-host convertVmCallResultToFilterHeadersStatus. */
function convertHeaders(r: number): number {
  if (r > FilterHeadersStatus.StopAllIterationAndWatermark || r === FilterHeadersStatus.StopIteration)
    return FilterHeadersStatus.StopAllIterationAndWatermark;
  return r;
}
/** cpp-host convertVmCallResultToFilterDataStatus. */
function convertData(r: number): number {
  return r > FilterDataStatus.StopIterationNoBuffer ? FilterDataStatus.StopIterationNoBuffer : r;
}

/** Per-direction state of the filter manager around this filter. */
class Direction {
  headers: HeaderMap | null = null; // the map object (kept for the access log)
  headersLive = false; // Context::request_headers_ / response_headers_ != nullptr
  trailers: HeaderMap | null = null;
  trailersLive = false;
  current: Buf | null = null; // Context::request_body_buffer_ / response_body_buffer_
  buffering = false; // Context::buffering_request_body_
  buffered: Buf | null = null; // FilterManager bufferedData() of this filter
  stopAll: 0 | 3 | 4 = 0; // headers stopped with StopAllIterationAndBuffer(3)/Watermark(4)
  bodyStopped = false; // iteration_state_ == StopSingleIteration after a data callback
  headersForwarded = false;
  endReceived = false; // end_stream seen from the peer
  headersOnlyEnd = false; // ContinueAndEndStream
  trailersPending: HeaderMap | null = null;
  bodyBytes = 0;
  readonly out: Sink = sink();
}

export class HttpStream extends HostContext implements StreamPropertySource {
  readonly isRoot = false;
  /** CelStates set by the filter ("wasm.<path>" → value/readOnly), as Envoy's filter state. */
  readonly filterStateStore = new FilterState();
  readonly filterState: Map<string, FilterStateEntry> = this.filterStateStore.map;
  readonly upstream: Sink;
  readonly downstream: Sink;
  localReply?: LocalReply;
  /** Set when Envoy would reset the stream (response already sent, close_stream...). */
  resetReason?: string;
  responseFlags = "-";
  readonly info: StreamInfo;
  readonly startNs: bigint;
  endNs?: bigint;

  private readonly req = new Direction();
  private readonly resp = new Direction();
  private created = false;
  private finished = false;
  private inAccessLog = false;
  private decodingAborted = false; // a local reply or reset ended the request side
  private responseStarted = false; // response headers entered the encoder chain
  private failureLocalReplySent = false;
  private streamFailed = false;
  private code?: number;
  private codeDetails?: string;

  constructor(
    private readonly vm: StreamVm,
    readonly id: number,
    info: StreamInfo,
  ) {
    super();
    this.info = { ...info };
    this.startNs = info.startTimeNs ?? vm.now();
    this.info.startTimeNs = this.startNs;
    this.upstream = this.req.out;
    this.downstream = this.resp.out;
    this.skippedByFailOpen = vm.failed && vm.failStrategy === "FAIL_OPEN";
  }

  // ---------------------------------------------------------------- driver API: request

  sendRequestHeaders(headers: readonly (readonly [string, string])[], endOfStream: boolean): FilterAction {
    if (this.req.headers) throw new Error("request headers already sent");
    const d = this.req;
    d.headers = new HeaderMap(headers);
    if (endOfStream) d.endReceived = true;
    if (this.decodingAborted) return NOT_CALLED;
    this.onCreate();
    d.headersLive = true;
    const { raw, stop } = this.call("proxy_on_request_headers", d.headers.size, endOfStream ? 1 : 0);
    if (stop || this.decodingAborted) return raw ?? NOT_CALLED;
    const status = convertHeaders(raw ?? 0);
    if (status === FilterHeadersStatus.Continue || status === FilterHeadersStatus.ContinueAndEndStream) {
      d.headersLive = false;
      this.forwardHeaders("request", endOfStream || status === FilterHeadersStatus.ContinueAndEndStream);
      if (status === FilterHeadersStatus.ContinueAndEndStream) d.headersOnlyEnd = true;
    } else {
      d.stopAll = status as 3 | 4;
    }
    return raw ?? NOT_CALLED;
  }

  sendRequestBody(chunk: Uint8Array | string, endOfStream: boolean): FilterAction {
    return this.onData("request", toBytes(chunk), endOfStream);
  }

  sendRequestTrailers(trailers: readonly (readonly [string, string])[]): FilterAction {
    return this.onTrailers("request", new HeaderMap(trailers));
  }

  // ---------------------------------------------------------------- driver API: response

  sendResponseHeaders(headers: readonly (readonly [string, string])[], endOfStream: boolean): FilterAction {
    if (this.decodingAborted || this.resetReason) return NOT_CALLED; // upstream request was reset
    if (!this.req.headersForwarded) throw new Error("response before the request reached the upstream");
    return this.encodeHeaders(new HeaderMap(headers), endOfStream);
  }

  sendResponseBody(chunk: Uint8Array | string, endOfStream: boolean): FilterAction {
    if ((this.decodingAborted && !this.localReplyEncoding) || this.responseReplaced) return NOT_CALLED;
    return this.onData("response", toBytes(chunk), endOfStream);
  }

  sendResponseTrailers(trailers: readonly (readonly [string, string])[]): FilterAction {
    if (this.decodingAborted || this.responseReplaced) return NOT_CALLED;
    return this.onTrailers("response", new HeaderMap(trailers));
  }

  /** End of the stream (complete or aborted): on_log → on_done → on_delete, skipped if the VM
   * failed (Context::log, Context::onDestroy; cpp-host ContextBase::onLog/onDone/onDelete). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.endNs = this.vm.now();
    if (!this.req.out.endOfStream || !this.resp.out.endOfStream) {
      if (!this.localReply && !this.resetReason) this.responseFlags = "DC";
    }
    if (!this.vm.failed) {
      this.onCreate();
      this.inAccessLog = true;
      try {
        this.vm.callExport(this, "proxy_on_log", this.id);
      } finally {
        this.inAccessLog = false;
      }
      if (!this.vm.failed) this.vm.callExport(this, "proxy_on_done", this.id);
      if (!this.vm.failed) this.vm.callExport(this, "proxy_on_delete", this.id);
    }
    this.vm.forgetContext(this.id);
  }

  filterStateString(key: string): string | undefined {
    return this.filterStateStore.getString(key);
  }

  /** Request headers as Envoy's access log sees them (the final map, after the filter). */
  finalRequestHeaders(): HeaderList | null {
    return this.req.headers?.toArray() ?? null;
  }
  finalResponseHeaders(): HeaderList | null {
    return this.resp.headers?.toArray() ?? null;
  }

  accessLogContext(): AccessLogContext {
    return {
      startTimeNs: this.startNs,
      endTimeNs: this.endNs ?? this.vm.now(),
      requestHeaders: this.req.headers?.toArray() ?? [],
      responseHeaders: this.resp.headers?.toArray() ?? [],
      responseTrailers: this.resp.trailers?.toArray() ?? [],
      responseCode: this.code,
      responseCodeDetails: this.codeDetails,
      responseFlags: this.responseFlags,
      bytesReceived: this.req.bodyBytes,
      bytesSent: this.resp.out.body().length,
      protocol: this.info.protocol ?? "HTTP/1.1",
      upstreamHost: this.req.headersForwarded ? this.info.upstreamAddress : undefined,
      upstreamCluster: this.info.upstreamCluster,
      upstreamTransportFailureReason: this.info.upstreamTransportFailureReason,
      downstreamRemoteAddress: this.info.sourceAddress,
      downstreamLocalAddress: this.info.destinationAddress,
      requestedServerName: this.info.requestedServerName,
      routeName: this.info.routeName,
      filterState: this.filterState,
    };
  }

  // ---------------------------------------------------------------- HostContext (ABI view)

  getMap(type: number): HeaderMap | null {
    switch (type) {
      case HeaderMapType.RequestHeaders:
        return this.req.headersLive ? this.req.headers : null;
      case HeaderMapType.RequestTrailers:
        return this.req.trailersLive ? this.req.trailers : null;
      case HeaderMapType.ResponseHeaders:
        return this.resp.headersLive ? this.resp.headers : null;
      case HeaderMapType.ResponseTrailers:
        return this.resp.trailersLive ? this.resp.trailers : null;
      default:
        return null;
    }
  }

  getConstMap(type: number): HeaderMap | null {
    if (this.inAccessLog) {
      // access_log_phase_: the access log's maps (absent request trailers).
      if (type === HeaderMapType.RequestHeaders) return this.req.headers;
      if (type === HeaderMapType.ResponseHeaders) return this.resp.headers;
      if (type === HeaderMapType.ResponseTrailers) return this.resp.trailers;
      return null;
    }
    if (type <= HeaderMapType.ResponseTrailers) return this.getMap(type);
    return null;
  }

  get accessLogPhase(): boolean {
    return this.inAccessLog;
  }

  getBuffer(type: number): BufferRef | null {
    if (type === BufferType.HttpRequestBody || type === BufferType.HttpResponseBody) {
      const d = type === BufferType.HttpRequestBody ? this.req : this.resp;
      if (d.buffering && d.buffered) return d.buffered;
      return d.current ?? super.getBuffer(type);
    }
    if (type === BufferType.VmConfiguration) return new ConstBuf(this.vm.vmConfig);
    if (type === BufferType.PluginConfiguration) return null;
    return super.getBuffer(type);
  }

  propertySource(): PropertySource {
    return this.vm.propertySource(this);
  }

  setProperty(path: string, value: Uint8Array): WasmResultCode {
    return this.filterStateStore.setCelState(path, value, this.vm.prototypeFor(path));
  }

  sendLocalResponse(r: LocalReplyRequest): WasmResultCode {
    // Deferred until the VM call returns (addAfterVmCallAction); details with spaces → "_".
    const details = r.details.replace(/\s/g, "_");
    this.vm.addAfterVmCallAction(() => this.sendLocalReply(r.status, r.body, r.headers, details));
    return WasmResult.Ok;
  }

  continueStream(type: number): WasmResultCode {
    if (type === StreamType.Request) this.vm.addAfterVmCallAction(() => this.resume("request"));
    else if (type === StreamType.Response) this.vm.addAfterVmCallAction(() => this.resume("response"));
    else if (type === StreamType.Downstream) return WasmResult.Ok;
    else if (type === StreamType.Upstream) return WasmResult.Unimplemented;
    else return WasmResult.BadArgument;
    // Context::continueStream forgets the request-side maps and buffer (for either type).
    this.req.headersLive = false;
    this.req.current = null;
    this.req.trailersLive = false;
    return WasmResult.Ok;
  }

  closeStream(type: number): WasmResultCode {
    if (type === StreamType.Request || type === StreamType.Response) {
      this.vm.addAfterVmCallAction(() => this.reset("wasm_close_stream"));
    }
    return WasmResult.Ok;
  }

  // ---------------------------------------------------------------- StreamPropertySource

  requestHeaders(): HeaderMap | null {
    return this.inAccessLog ? this.req.headers : this.req.headersLive ? this.req.headers : null;
  }
  responseHeaders(): HeaderMap | null {
    return this.inAccessLog ? this.resp.headers : this.resp.headersLive ? this.resp.headers : null;
  }
  responseTrailers(): HeaderMap | null {
    return this.inAccessLog ? this.resp.trailers : this.resp.trailersLive ? this.resp.trailers : null;
  }
  responseCode(): number | undefined {
    return this.code;
  }
  responseCodeDetails(): string | undefined {
    return this.codeDetails;
  }
  upstreamHostSelected(): boolean {
    return this.req.headersForwarded;
  }
  requestBodyBytes(): number {
    return this.req.bodyBytes;
  }
  responseBodyBytes(): number {
    return this.resp.out.body().length;
  }
  durationNs(): bigint | undefined {
    return this.endNs === undefined ? undefined : this.endNs - this.startNs;
  }

  // ---------------------------------------------------------------- internals

  private localReplyEncoding = false;
  private responseReplaced = false; // a direct local reply replaced the upstream response

  private onCreate(): void {
    if (this.created) return;
    this.created = true;
    if (!this.vm.failed) this.vm.callExport(this, "proxy_on_context_create", this.id, this.vm.rootContextId);
  }

  /** FAIL_OPEN decides per stream, when Envoy creates its filters: a stream that starts after
   * the VM failed has no filter. The stream whose callback trapped still gets the 503, whatever
   * the strategy (observed in Envoy 1.36.4 and 1.40.0: 503 with no upstream call, then later
   * streams on that worker pass; tests/envoy-failure.test.ts). */
  private readonly skippedByFailOpen: boolean;

  /** A callback wrapped in CHECK_FAIL_HTTP (before and after the call). `stop`: the VM failed
   * and the stream got its 503; a stream created after the VM failed under FAIL_OPEN reads as
   * Continue (`raw` undefined): the filter is skipped. */
  private call(fn: string, ...args: number[]): { raw: number | undefined; stop: boolean } {
    if (this.vm.failed) return this.failedVm();
    const raw = this.vm.callExport(this, fn, this.id, ...args);
    if (this.vm.failed) return this.failedVm();
    return { raw, stop: false };
  }

  private failedVm(): { raw: undefined; stop: boolean } {
    if (this.skippedByFailOpen) return { raw: undefined, stop: false };
    if (!this.streamFailed) {
      this.streamFailed = true;
      this.failStream();
    }
    return { raw: undefined, stop: true };
  }

  /** Context::failStream(Request) then (Response): a 503 local reply, details
   * wasm_fail_stream, sent once (failure_local_reply_sent_). */
  private failStream(): void {
    if (this.failureLocalReplySent) return;
    this.failureLocalReplySent = true;
    this.sendLocalReply(503, "", [], "wasm_fail_stream");
  }

  /** FilterManager::sendLocalReply: through the encoder chain if the response has not started,
   * directly to the client if headers are not yet sent, else a stream reset. */
  private sendLocalReply(status: number, body: string, extra: [string, string][], details: string): void {
    if (this.resetReason || this.localReply) return;
    this.decodingAborted = true;
    this.code = status;
    this.codeDetails = details;
    const headers = new HeaderMap([[":status", String(status)]]);
    if (body.length) {
      headers.add("content-length", String(enc.encode(body).length));
      headers.add("content-type", "text/plain");
    }
    for (const [k, v] of extra) headers.add(k, v);
    this.localReply = { status, body, headers: headers.toArray(), details };
    if (this.resp.out.headers) {
      this.reset(details);
      return;
    }
    if (!this.responseStarted) {
      this.localReplyEncoding = true;
      try {
        const bodyBytes = enc.encode(body);
        this.encodeHeaders(headers, bodyBytes.length === 0);
        if (bodyBytes.length) this.onData("response", bodyBytes, true);
      } finally {
        this.localReplyEncoding = false;
      }
      return;
    }
    // sendDirectLocalReply: bypasses the filter chain.
    this.responseReplaced = true;
    this.resp.headers = headers;
    this.resp.headersLive = false;
    this.resp.headersForwarded = true;
    this.resp.out.headers = headers.toArray();
    this.resp.out.bodyChunks = body.length ? [enc.encode(body)] : [];
    this.resp.out.endOfStream = true;
    this.resp.buffered = null;
  }

  private reset(reason: string): void {
    if (this.resetReason) return;
    this.resetReason = reason;
    this.decodingAborted = true;
    if (this.responseFlags === "-") this.responseFlags = "DR";
  }

  private encodeHeaders(headers: HeaderMap, endOfStream: boolean): FilterAction {
    const d = this.resp;
    if (d.headers && d.headersForwarded) throw new Error("response headers already sent");
    this.responseStarted = true;
    d.headers = headers;
    if (endOfStream) d.endReceived = true;
    if (!this.localReplyEncoding) {
      const code = Number(headers.first(":status"));
      this.code = Number.isFinite(code) ? code : undefined;
    }
    // Context::encodeHeaders: skipped once the failure local reply was sent.
    if (!this.created || this.failureLocalReplySent) {
      this.forwardHeaders("response", endOfStream);
      return NOT_CALLED;
    }
    d.headersLive = true;
    const { raw, stop } = this.call("proxy_on_response_headers", headers.size, endOfStream ? 1 : 0);
    if (stop || this.resetReason || this.responseReplaced) return raw ?? NOT_CALLED;
    const status = convertHeaders(raw ?? 0);
    if (status === FilterHeadersStatus.Continue || status === FilterHeadersStatus.ContinueAndEndStream) {
      d.headersLive = false;
      this.forwardHeaders("response", endOfStream || status === FilterHeadersStatus.ContinueAndEndStream);
      if (status === FilterHeadersStatus.ContinueAndEndStream) d.headersOnlyEnd = true;
    } else {
      d.stopAll = status as 3 | 4;
    }
    return raw ?? NOT_CALLED;
  }

  private onData(dir: "request" | "response", chunk: Uint8Array, endOfStream: boolean): FilterAction {
    const d = dir === "request" ? this.req : this.resp;
    if (this.resetReason) return NOT_CALLED;
    if (dir === "request" && this.decodingAborted) return NOT_CALLED;
    if (!d.headers) throw new Error(`${dir} body before ${dir} headers`);
    if (d.endReceived) throw new Error(`${dir} body after end of stream`);
    if (endOfStream) d.endReceived = true;
    if (dir === "request") d.bodyBytes += chunk.length;
    if (d.headersOnlyEnd) return NOT_CALLED; // after ContinueAndEndStream the rest is dropped
    if (d.stopAll) {
      // The filter manager holds the data before this filter until it continues.
      (d.buffered ??= new Buf()).add(chunk);
      if (d.stopAll === FilterHeadersStatus.StopAllIterationAndBuffer) this.checkBufferLimit(dir, d);
      return NOT_CALLED;
    }
    return this.decodeData(dir, new Buf(chunk), endOfStream);
  }

  /** Context::decodeData/encodeData plus the filter manager's handling of the status. */
  private decodeData(dir: "request" | "response", data: Buf, endOfStream: boolean): FilterAction {
    const d = dir === "request" ? this.req : this.resp;
    if (!this.created || (dir === "response" && this.failureLocalReplySent)) {
      this.forwardData(dir, data.bytes, endOfStream);
      return NOT_CALLED;
    }
    if (d.buffering && d.buffered && data !== d.buffered) {
      // addDecodedData/addEncodedData: the new chunk joins the buffered body first.
      d.buffered.move(data);
      data = d.buffered;
      if (this.checkBufferLimit(dir, d)) return FilterDataStatus.StopIterationAndBuffer;
    }
    d.current = data;
    const size = (d.buffering && d.buffered ? d.buffered : data).size();
    const fn = dir === "request" ? "proxy_on_request_body" : "proxy_on_response_body";
    const { raw, stop } = this.call(fn, size, endOfStream ? 1 : 0);
    d.buffering = false;
    if (stop || this.resetReason || (dir === "request" && this.decodingAborted) || (dir === "response" && this.responseReplaced))
      return raw ?? NOT_CALLED;
    const status = convertData(raw ?? 0);
    switch (status) {
      case FilterDataStatus.Continue:
        d.current = null;
        if (d.bodyStopped) {
          // commonHandleBufferData + commonContinue: the buffered body goes on.
          if (d.buffered && data !== d.buffered) d.buffered.move(data);
          const bytes = d.buffered ? d.buffered.bytes : data.bytes;
          d.buffered = null;
          d.bodyStopped = false;
          this.forwardData(dir, bytes, endOfStream);
        } else {
          if (data === d.buffered) d.buffered = null;
          this.forwardData(dir, data.bytes, endOfStream);
        }
        if (endOfStream && d.trailersPending) this.flushTrailers(dir);
        break;
      case FilterDataStatus.StopIterationAndBuffer:
      case FilterDataStatus.StopIterationAndWatermark:
        d.bodyStopped = true;
        if (data !== d.buffered) (d.buffered ??= new Buf()).move(data);
        if (status === FilterDataStatus.StopIterationAndBuffer) {
          d.buffering = true;
          this.checkBufferLimit(dir, d);
        }
        break;
      default: // StopIterationNoBuffer: the chunk is not kept
        d.bodyStopped = true;
        break;
    }
    return raw ?? NOT_CALLED;
  }

  /** Watermark buffer above the limit while buffering (not streaming): request → 413,
   * response → 500 (or reset once headers went out). Returns true if the stream ended. */
  private checkBufferLimit(dir: "request" | "response", d: Direction): boolean {
    if (!d.buffered || d.buffered.size() <= this.vm.bufferLimitBytes) return false;
    if (dir === "request") {
      this.sendLocalReply(413, "Payload Too Large", [], "request_payload_too_large");
    } else {
      this.responseStarted = true;
      this.sendLocalReply(500, "Internal Server Error", [], "response_payload_too_large");
    }
    return true;
  }

  private onTrailers(dir: "request" | "response", trailers: HeaderMap): FilterAction {
    const d = dir === "request" ? this.req : this.resp;
    if (this.resetReason) return NOT_CALLED;
    d.endReceived = true;
    d.trailers = trailers;
    if (d.stopAll) {
      d.trailersPending = trailers;
      return NOT_CALLED;
    }
    if (!this.created || (dir === "response" && this.failureLocalReplySent)) {
      d.trailersPending = trailers;
      this.flushTrailers(dir);
      return NOT_CALLED;
    }
    d.trailersLive = true;
    const fn = dir === "request" ? "proxy_on_request_trailers" : "proxy_on_response_trailers";
    const { raw, stop } = this.call(fn, trailers.size);
    if (stop || this.resetReason || (dir === "request" && this.decodingAborted) || (dir === "response" && this.responseReplaced))
      return raw ?? NOT_CALLED;
    d.trailersPending = trailers;
    if ((raw ?? 0) === FilterTrailersStatus.Continue) {
      d.trailersLive = false;
      if (d.bodyStopped) {
        d.bodyStopped = false;
        if (d.buffered) this.forwardData(dir, d.buffered.bytes, false);
        d.buffered = null;
      }
      this.flushTrailers(dir);
    }
    return raw ?? NOT_CALLED;
  }

  private flushTrailers(dir: "request" | "response"): void {
    const d = dir === "request" ? this.req : this.resp;
    if (!d.trailersPending) return;
    d.out.trailers = d.trailersPending.toArray();
    d.out.endOfStream = true;
    d.trailersPending = null;
  }

  /** continueDecoding/continueEncoding (commonContinue). */
  private resume(dir: "request" | "response"): void {
    const d = dir === "request" ? this.req : this.resp;
    if (this.resetReason || (dir === "request" && this.decodingAborted)) return;
    if (d.stopAll) {
      d.stopAll = 0;
      d.headersLive = false;
      const hasData = !!d.buffered && d.buffered.size() > 0;
      this.forwardHeaders(dir, d.endReceived && !hasData && !d.trailersPending);
      if (d.buffered) {
        // iterate_from_current_filter_: this filter now sees the held data.
        const data = d.buffered;
        d.buffered = null;
        this.decodeData(dir, data, d.endReceived && !d.trailersPending);
      }
      if (d.trailersPending && !d.stopAll && !d.bodyStopped) {
        const t = d.trailersPending;
        d.trailersPending = null;
        this.onTrailers(dir, t);
      }
    } else if (d.bodyStopped) {
      d.bodyStopped = false;
      d.buffering = false;
      const bytes = d.buffered ? d.buffered.bytes : new Uint8Array(0);
      d.buffered = null;
      this.forwardData(dir, bytes, d.endReceived && !d.trailersPending);
      this.flushTrailers(dir);
    }
  }

  private forwardHeaders(dir: "request" | "response", endOfStream: boolean): void {
    const d = dir === "request" ? this.req : this.resp;
    if (d.headersForwarded) return;
    d.headersForwarded = true;
    d.out.headers = d.headers!.toArray();
    if (endOfStream) d.out.endOfStream = true;
  }

  private forwardData(dir: "request" | "response", bytes: Uint8Array, endOfStream: boolean): void {
    const d = dir === "request" ? this.req : this.resp;
    if (!d.headersForwarded) this.forwardHeaders(dir, false);
    if (bytes.length) d.out.bodyChunks.push(bytes.slice());
    if (endOfStream) d.out.endOfStream = true;
  }
}

function toBytes(x: Uint8Array | string): Uint8Array {
  return typeof x === "string" ? enc.encode(x) : x;
}
