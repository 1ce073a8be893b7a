// The per-stream context: lifecycle glue only. It classifies the request, applies routing,
// feeds bodies to the parsers and hands the Usage record to the sinks once the response ends.
// Every body chunk passes on unchanged (Continue) unless a rewrite was configured for this
// request, and then only the request body is held, within a bound.
import { Context, RootContext, FilterHeadersStatusValues, FilterDataStatusValues, FilterTrailersStatusValues } from "@solo-io/proxy-runtime/assembly";
import { VmState } from "./vm-state";
import { ApiShape, Auth, ModelSource, StreamSignal } from "./apis/shape";
import { barePath, classifyPath } from "./apis/registry";
import { Field } from "./apis/fields";
import { JsonScanner, acquireScanner, releaseScanner } from "./json/scanner";
import { getProperty, Buffer, bufferedSize, getBuffer, readBuffer, readHeaders, READ_WINDOW, headerEquals, HeaderMap, nowNanoseconds, removeHeader, replaceHeader, setBuffer, setBufferBytes, log, Level } from "./envoy";
import { HeldBody, holdsInVm } from "./held-body";
import { decideRouting, hostOf, Routing } from "./routing";
import { ModelPolicy } from "./config";
import { rewriteRequest } from "./rewrite";
import { BodyKind, ResponseParser } from "./response";
import { Usage } from "./usage";
import { Skip } from "./outcome";
import { publishVmMemoryIfDue } from "./telemetry/vm-memory";
import { HeaderCounts, readHeaderCounts } from "./token-headers";
import { publishRequestModel, publishResult, countSkippedRewrite } from "./telemetry/publish";
import { Attribution, clientApiKey } from "./identity/attribution";
import { Inflater, InflateSink } from "./compress/inflate";
import { AcceptEncoding, BodyCoding, bodyCoding, narrowAcceptEncoding, wrapOf } from "./compress/codings";

// Header names, UTF-8 encoded once.
const H_AUTHORITY = String.UTF8.encode(":authority");
const H_PATH = String.UTF8.encode(":path");
const H_METHOD = String.UTF8.encode(":method");
const H_CONTENT_TYPE = String.UTF8.encode("content-type");
const H_ACCEPT = String.UTF8.encode("accept");
const H_DASHSCOPE_SSE = String.UTF8.encode("x-dashscope-sse");
const H_CONTENT_ENCODING = String.UTF8.encode("content-encoding");
const H_CONTENT_LENGTH = String.UTF8.encode("content-length");
const H_STATUS = String.UTF8.encode(":status");
const H_ACCEPT_ENCODING = String.UTF8.encode("accept-encoding");
const H_AMZN_ERROR_TYPE = String.UTF8.encode("x-amzn-errortype");
const B_POST = String.UTF8.encode("POST");

export class LlmStream extends Context {
  /** The API shape of this request, or null when it is no LLM call. */
  private api: ApiShape | null = null;
  /** The request authority's host name (after any re-targeting): the destination label. */
  private destinationHost: string = "";
  private routing: Routing | null = null;
  private buffering: bool = false;
  /** While buffering over HTTP/1.x: the body so far, held in the VM (held-body.ts says why). */
  private held: HeldBody | null = null;
  private requestScanner: JsonScanner | null = null;
  private requestDone: bool = false;
  usage: Usage = new Usage();
  /** Whether the client asked for a streamed response. */
  streaming: bool = false;
  private parser: ResponseParser | null = null;
  /** A gzip or deflate response body: inflated, and the bytes it gives read like identity ones. */
  private inflater: Inflater | null = null;
  private sniff: bool = false;
  /** Token counts from the response headers (shapes with countsInHeaders), or null. */
  private headerCounts: HeaderCounts | null = null;
  private responseEnded: bool = false;
  private finalized: bool = false;
  status: i32 = 0;
  skip: Skip = Skip.None;
  /** Caller and identity labels, fixed once the request is known to be an LLM call. */
  private attribution: Attribution | null = null;

  constructor(context_id: u32, root: RootContext, private vm: VmState) {
    super(context_id, root);
  }

  // ---- request ---------------------------------------------------------------------------

  onRequestHeaders(_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const config = this.vm.config;
    // Only a POST with a body can be an LLM call (every API shape's request has one), and only
    // providers act on other requests: with none configured, a request whose headers end the
    // stream (a GET, a HEAD) costs no host call at all, and any other non-POST one header read.
    if (end_of_stream && config.providers.length == 0) return FilterHeadersStatusValues.Continue;
    const post = headerEquals(HeaderMap.Request, H_METHOD, B_POST);
    if (!post && config.providers.length == 0) return FilterHeadersStatusValues.Continue;
    // The rest in one read (a copy: the edits below do not change what it says).
    const headers = readHeaders(HeaderMap.Request);
    const authority = headers.value(H_AUTHORITY);
    this.destinationHost = hostOf(authority !== null ? authority : "");
    let path = headers.value(H_PATH);
    if (path === null) path = "/";
    // The caller's own API key, read before a provider's key may replace it.
    const clientKey = post && this.vm.identity.wantsApiKey ? clientApiKey() : null;
    const routing = decideRouting(config, this.destinationHost);
    const provider = routing.provider;
    if (provider !== null) {
      this.routing = routing;
      // The seed's bare `curl http://dashscope.aliyuncs.com`: a POST to `/` goes to the
      // provider's path; every other path (an API path, /v1/messages/batches...) keeps its own.
      if (post && provider.path.length > 0 && isRootPath(path)) {
        replaceHeader(HeaderMap.Request, ":path", provider.path);
        path = provider.path;
      }
      if (provider.apiKey.length > 0) injectApiKey(provider.shape.auth, provider.apiKey);
      if (provider.hosts.length > 0 && !provider.hosts.includes(this.destinationHost)) {
        // A route switched provider: re-target the request. Envoy picks the route again by
        // itself: for ABI 0.2.x every request-header edit clears the route cache (1.33+), and
        // proxy_clear_route_cache exists only under ABI 0.1.0 (proxy-wasm-cpp-host src/wasm.cc).
        replaceHeader(HeaderMap.Request, ":authority", provider.hosts[0]);
        this.destinationHost = provider.hosts[0];
      }
    }
    if (!post) return FilterHeadersStatusValues.Continue;
    const bare = barePath(path);
    const shape = classifyPath(config.apiPaths, bare);
    if (shape === null) return FilterHeadersStatusValues.Continue;
    const contentType = headers.value(H_CONTENT_TYPE);
    // A form upload (image edits, audio transcriptions) is observed, its body never read.
    const form = contentType !== null && shape.formRequests && contentType.toLowerCase().includes("multipart/form-data");
    if (contentType !== null && !form && !contentType.toLowerCase().includes("json")) return FilterHeadersStatusValues.Continue;
    this.api = shape;
    publishVmMemoryIfDue();
    this.attribution = this.vm.identity.attribute(this.vm.metrics, clientKey);
    this.usage.billing = shape.billing;
    this.usage.startNs = nowNanoseconds();
    this.usage.totalIsPrompt = shape.totalIsPromptFor(bare);
    applyAcceptEncoding(provider !== null && provider.acceptEncoding >= 0 ? provider.acceptEncoding : config.acceptEncoding, headers.value(H_ACCEPT_ENCODING));
    if (shape.streamSignal == StreamSignal.Header) {
      // DashScope streams by header (X-DashScope-SSE: enable, or Accept: text/event-stream).
      const sse = headers.value(H_DASHSCOPE_SSE);
      const accept = headers.value(H_ACCEPT);
      if ((sse !== null && sse.toLowerCase() == "enable") || (accept !== null && accept.includes("text/event-stream"))) this.streaming = true;
    } else if (shape.streamSignal == StreamSignal.Path) {
      this.streaming = shape.streamsAt(bare);
    }
    if (shape.modelSource == ModelSource.Path) {
      this.usage.requestModel = shape.modelFromPath(bare);
    }
    const encoding = headers.value(H_CONTENT_ENCODING);
    const readable = encoding === null || encoding.toLowerCase() == "identity";
    // Shapes whose request body names nothing we read (model and stream flag in the path or
    // headers) are never scanned.
    if (end_of_stream || !readable || form || !shape.readsRequestBody) {
      this.requestDone = true;
      if (!readable && provider !== null && this.wantsRewrite(shape)) countSkippedRewrite(this.vm, "compressed");
      publishRequestModel(this.vm, this.usage.requestModel, this.streaming);
      return FilterHeadersStatusValues.Continue;
    }
    this.requestScanner = acquireScanner(shape.request);
    if (provider !== null && this.wantsRewrite(shape)) {
      if (declaredLength(headers.value(H_CONTENT_LENGTH)) > <i64>this.vm.config.maxRewriteBodyBytes) {
        // Known to be over the bound: never held (not even copied into the VM, held-body.ts).
        countSkippedRewrite(this.vm, "too_large");
      } else {
        // The body may change length: the headers go upstream before the body is rewritten.
        removeHeader(HeaderMap.Request, "content-length");
        this.buffering = true;
        if (holdsInVm()) this.held = new HeldBody();
      }
    }
    return FilterHeadersStatusValues.Continue;
  }

  private wantsRewrite(shape: ApiShape): bool {
    const routing = this.routing;
    if (routing === null) return false;
    const provider = routing.provider;
    if (provider === null) return false;
    // A model in the URL path (Gemini, Bedrock) is not rewritten: only body models are.
    return shape.readsRequestBody && ((routing.model.length > 0 && shape.modelSource == ModelSource.Body) || (provider.includeUsage && shape.includeUsage));
  }

  onRequestBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    const scanner = this.requestScanner;
    if (scanner === null || this.requestDone) return FilterDataStatusValues.Continue;
    const length = <i32>body_buffer_length;
    const held = this.held;
    if (this.buffering && held !== null) return this.holdChunk(scanner, held, length, end_of_stream);
    if (this.buffering) {
      if (length <= this.vm.config.maxRewriteBodyBytes) {
        if (!end_of_stream) return FilterDataStatusValues.StopIterationAndBuffer;
        this.rewriteBuffered(scanner, length);
        return FilterDataStatusValues.Continue;
      }
      // Over the bound (also when it all came in one last chunk): give up the rewrite, read what
      // is held, let it go and stream the rest.
      this.buffering = false;
      countSkippedRewrite(this.vm, "too_large");
    }
    this.scanChunk(scanner, length);
    if (end_of_stream) this.endRequest(scanner);
    return FilterDataStatusValues.Continue;
  }

  /** A chunk of a body held in the VM: kept while the whole stays within the bound; the whole
   *  goes back in place of the last chunk, rewritten; past the bound it goes on unchanged in
   *  front of the chunk that crossed it, and the rest streams. */
  private holdChunk(scanner: JsonScanner, held: HeldBody, length: i32, end_of_stream: bool): FilterDataStatusValues {
    if (held.append(length, this.vm.config.maxRewriteBodyBytes)) {
      if (!end_of_stream) return FilterDataStatusValues.StopIterationNoBuffer;
      this.held = null;
      this.rewriteBuffered(scanner, length, held.bytes());
      return FilterDataStatusValues.Continue;
    }
    this.held = null;
    this.buffering = false;
    countSkippedRewrite(this.vm, "too_large");
    const body = held.bytes();
    scanner.feed(body.dataStart, body.length);
    this.scanChunk(scanner, length);
    setBufferBytes(Buffer.RequestBody, 0, 0, body.dataStart, body.length);
    if (end_of_stream) this.endRequest(scanner);
    return FilterDataStatusValues.Continue;
  }

  onRequestTrailers(_trailers: u32): FilterTrailersStatusValues {
    // A request body ending in trailers never had end_of_stream on a body callback.
    const scanner = this.requestScanner;
    if (scanner !== null && !this.requestDone) {
      if (this.buffering) this.rewriteBuffered(scanner, bufferedSize(Buffer.RequestBody));
      else this.endRequest(scanner);
    }
    return FilterTrailersStatusValues.Continue;
  }

  private scanChunk(scanner: JsonScanner, length: i32): void {
    // In windows the size of the scratch block: a chunk of any size (Envoy hands over up to its
    // buffer limit at once) is read without growing linear memory; the scanner takes any split.
    for (let at = 0; at < length; at += READ_WINDOW) {
      const chunk = readBuffer(Buffer.RequestBody, <u32>at, <u32>min(READ_WINDOW, length - at));
      if (chunk.length == 0) break;
      scanner.feed(chunk.ptr, chunk.length);
    }
  }

  /** Rewrites the body: Envoy's buffered request body [0, length), or `held` (the body held in
   *  the VM), which then replaces the current chunk [0, length) whether rewritten or not. */
  private rewriteBuffered(scanner: JsonScanner, length: i32, held: Uint8Array | null = null): void {
    this.buffering = false;
    const body = held !== null ? held : Uint8Array.wrap(getBuffer(Buffer.RequestBody, 0, <u32>length));
    const replace = held !== null ? <u32>length : <u32>body.length;
    let replaced = false;
    scanner.feed(body.dataStart, body.length);
    scanner.finish();
    const routing = this.routing!;
    if (!scanner.complete || !scanner.rootIsObject) {
      countSkippedRewrite(this.vm, "malformed");
    } else {
      let model = routing.model;
      // Under the default policy a named model stays; "model": "" or null counts as none.
      const shape = this.api!;
      if (shape.modelSource != ModelSource.Body || (routing.policy == ModelPolicy.Default && scanner.names(Field.Model))) model = "";
      const provider = routing.provider!;
      const includeUsage = provider.includeUsage && shape.includeUsage;
      const rewritten = rewriteRequest(body, scanner, model, includeUsage);
      if (rewritten !== null) {
        if (setBuffer(Buffer.RequestBody, 0, replace, rewritten.buffer)) {
          replaced = true;
          if (model.length > 0) {
            this.usage.requestModel = Uint8Array.wrap(String.UTF8.encode(model));
          }
        } else {
          countSkippedRewrite(this.vm, "refused");
        }
      }
    }
    if (held !== null && !replaced) setBufferBytes(Buffer.RequestBody, 0, replace, body.dataStart, body.length);
    this.endRequest(scanner);
  }

  private endRequest(scanner: JsonScanner): void {
    this.requestDone = true;
    scanner.finish();
    if (this.usage.requestModel === null) this.usage.requestModel = scanner.string(Field.Model);
    if (scanner.isTrue(Field.Stream)) this.streaming = true;
    this.requestScanner = null;
    releaseScanner(scanner);
    publishRequestModel(this.vm, this.usage.requestModel, this.streaming);
  }

  // ---- response --------------------------------------------------------------------------

  onResponseHeaders(_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const shape = this.api;
    if (shape === null) return FilterHeadersStatusValues.Continue;
    const headers = readHeaders(HeaderMap.Response);
    const status = headers.value(H_STATUS);
    this.status = status !== null ? I32.parseInt(status) : 0;
    const coding = bodyCoding(headers.value(H_CONTENT_ENCODING));
    this.usage.status = this.status;
    const contentType = headers.value(H_CONTENT_TYPE);
    const ct = contentType !== null ? contentType.toLowerCase() : "";
    if (this.status < 200 || this.status >= 300) {
      this.skip = Skip.ErrorStatus;
      if (this.status >= 400) this.readErrorBody(shape, coding, ct, headers.value(H_AMZN_ERROR_TYPE));
    } else if (coding == BodyCoding.Unreadable) {
      this.skip = Skip.Compressed; // brotli, zstd...: not read (acceptEncoding keeps them from being asked for)
    } else if (ct.includes("vnd.amazon.eventstream")) {
      this.parser = ResponseParser.acquire(shape, BodyKind.EventStream, this.usage); // Bedrock's binary framing
    } else if (ct.includes("text/event-stream")) {
      this.parser = ResponseParser.acquire(shape, BodyKind.Sse, this.usage);
    } else if (ct.includes("ndjson")) {
      this.parser = ResponseParser.acquire(shape, BodyKind.Ndjson, this.usage); // Ollama's native streams
    } else if (ct.includes("json")) {
      this.parser = ResponseParser.acquire(shape, BodyKind.Json, this.usage);
    } else {
      this.sniff = true; // no or odd content type: decide from the first bytes
    }
    if (shape.countsInHeaders && this.skip == Skip.None) {
      const counts = readHeaderCounts();
      if (counts.any) this.headerCounts = counts;
    }
    // Compressed answers are inflated to be read, error bodies too (their code and message).
    if (coding != BodyCoding.Identity && (this.skip == Skip.None || this.parser !== null)) this.inflater = Inflater.acquire(wrapOf(coding), new InflatedBody(this));
    if (end_of_stream) this.endResponse();
    return FilterHeadersStatusValues.Continue;
  }

  onResponseBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    if (this.api === null || this.responseEnded) return FilterDataStatusValues.Continue;
    const length = <i32>body_buffer_length;
    // In windows, as scanChunk does for requests.
    for (let at = 0; at < length && (this.parser !== null || this.sniff); at += READ_WINDOW) {
      const chunk = readBuffer(Buffer.ResponseBody, <u32>at, <u32>min(READ_WINDOW, length - at));
      if (chunk.length == 0) break;
      const inflater = this.inflater;
      if (inflater !== null) inflater.feed(chunk.ptr, chunk.length); // on to readPlain
      else this.readPlain(chunk.ptr, chunk.length);
    }
    if (end_of_stream) this.endResponse();
    return FilterDataStatusValues.Continue;
  }

  /** Response body bytes as the API wrote them (received so, or inflated). */
  readPlain(ptr: usize, len: i32): void {
    if (this.sniff) this.sniffKind(ptr, len);
    const parser = this.parser;
    if (parser !== null) {
      parser.feed(ptr, len);
      // Time to first token: the chunk that completed the first event (SSE), or the first
      // bytes of an unframed stream (Gemini's JSON array). Published for streamed answers only,
      // so an unstreamed one spends no clock read (a host call) on it.
      if (this.streaming && this.usage.firstTokenNs == 0 && parser.hasContent) this.usage.firstTokenNs = nowNanoseconds();
    }
  }

  onResponseTrailers(_trailers: u32): FilterTrailersStatusValues {
    if (this.api !== null && !this.responseEnded) this.endResponse();
    return FilterTrailersStatusValues.Continue;
  }

  /** An error answer's body is read (JSON or SSE, gzip'd or deflated too) for the provider's error code
   *  and message, and Bedrock's x-amzn-errortype header kept: the error's class. */
  private readErrorBody(shape: ApiShape, coding: BodyCoding, ct: string, amzn: string | null): void {
    if (amzn !== null) {
      const colon = amzn.indexOf(":"); // "ValidationException:http://internal.amazon.com/coral/..."
      this.usage.errorCode = colon >= 0 ? amzn.substring(0, colon) : amzn;
    }
    if (coding == BodyCoding.Unreadable) return;
    if (ct.includes("text/event-stream")) this.parser = ResponseParser.acquire(shape, BodyKind.Sse, this.usage);
    else if (ct.includes("json")) this.parser = ResponseParser.acquire(shape, BodyKind.Json, this.usage);
  }

  private sniffKind(p: usize, n: i32): void {
    let i = 0;
    while (i < n && load<u8>(p + <usize>i) <= 0x20) i++;
    if (i == n) return; // only blanks so far
    this.sniff = false;
    const c = load<u8>(p + <usize>i);
    const shape = this.api!;
    if (c == 0x7b || (c == 0x5b /* [ */ && shape.response.rootElement >= 0)) this.parser = ResponseParser.acquire(shape, BodyKind.Json, this.usage);
    else if (c == 0x64 /* d */ || c == 0x3a /* : */ || c == 0x65 /* e */ || c == 0x69 /* i */) this.parser = ResponseParser.acquire(shape, BodyKind.Sse, this.usage);
    else this.skip = Skip.ContentType;
  }

  private endResponse(): void {
    this.responseEnded = true;
    this.usage.endNs = nowNanoseconds();
    const inflater = this.inflater;
    // The end of a compressed body may still inflate to bytes; a broken or truncated one (or
    // one past the output cap) publishes nothing.
    const inflated = inflater === null || inflater.finish();
    const parser = this.parser;
    if (!inflated) {
      if (parser !== null) parser.finish();
      if (this.skip != Skip.ErrorStatus) this.skip = Skip.Malformed;
    } else if (parser !== null && this.skip == Skip.ErrorStatus) {
      parser.finish(); // an error body: read for its code and message only
    } else if (parser !== null) {
      parser.finish();
      const counts = this.headerCounts;
      if (counts !== null && parser.sound) counts.applyTo(this.usage);
      if (parser.empty) this.skip = Skip.NoUsage; // no body, or an event stream with no data events
      else if (!parser.sound) this.skip = Skip.Malformed;
      else if (this.usage.providerError) this.skip = Skip.ProviderError;
      else if (!this.usage.hasUsage) this.skip = Skip.NoUsage;
    } else if (this.skip == Skip.None) {
      this.skip = this.sniff ? Skip.NoUsage : Skip.ContentType;
    }
    this.finalize(true);
  }

  // ---- end of stream ---------------------------------------------------------------------

  onLog(): void {
    // Reached without a response end: an upstream reset or a client abort.
    if (this.api !== null && !this.finalized) {
      if (!this.requestDone) {
        this.requestDone = true;
        // Cut off mid-request: a model already seen in the part that went upstream is still the
        // model asked for (a held body went nowhere, so it names nothing).
        const scanner = this.requestScanner;
        if (scanner !== null && !this.buffering && this.usage.requestModel === null) this.usage.requestModel = scanner.string(Field.Model);
        publishRequestModel(this.vm, this.usage.requestModel, this.streaming);
      }
      this.skip = Skip.Incomplete;
      this.usage.responseFlags = responseFlags();
      this.finalize(false);
    }
  }

  private finalize(complete: bool): void {
    if (this.finalized) return;
    this.finalized = true;
    if (this.vm.config.debug) {
      log(Level.Debug, "asm-llm-proxy: stream " + this.context_id.toString() + " status " + this.status.toString() + " skip " + (<i32>this.skip).toString());
    }
    if (!complete && this.skip == Skip.None) this.skip = Skip.Incomplete;
    publishResult(this.vm, this.usage, this.skip, this.streaming, this.destinationHost, this.attribution, this.api!.name);
    const parser = this.parser;
    if (parser !== null) {
      this.parser = null;
      parser.release();
    }
    const inflater = this.inflater;
    if (inflater !== null) {
      this.inflater = null;
      inflater.release();
    }
  }

}

/** Hands what the inflater gives to the stream's reader. */
class InflatedBody extends InflateSink {
  constructor(private stream: LlmStream) {
    super();
  }
  inflated(ptr: usize, len: i32): void {
    this.stream.readPlain(ptr, len);
  }
}

/** The request's accept-encoding (`value`, as sent), as the acceptEncoding setting asks
 *  (compress/codings.ts). */
function applyAcceptEncoding(mode: i32, value: string | null): void {
  if (mode == AcceptEncoding.Keep) return;
  if (mode == AcceptEncoding.Identity) {
    if (value === null || value != "identity") replaceHeader(HeaderMap.Request, "accept-encoding", "identity");
    return;
  }
  if (value === null) return; // none sent: providers answer identity
  const narrowed = narrowAcceptEncoding(value);
  if (narrowed !== null) replaceHeader(HeaderMap.Request, "accept-encoding", narrowed);
}

/** Envoy's response flags (`response.flags`, a little-endian u64), 0 when unknown. */
function responseFlags(): u64 {
  const v = getProperty(["response", "flags"]);
  return v !== null && v.byteLength == 8 ? load<u64>(changetype<usize>(v)) : 0;
}

/** The provider's API key in the header its API shape authenticates with. */
function injectApiKey(auth: Auth, key: string): void {
  switch (auth) {
    case Auth.XApiKey: replaceHeader(HeaderMap.Request, "x-api-key", key); break; // Anthropic
    case Auth.GoogApiKey: replaceHeader(HeaderMap.Request, "x-goog-api-key", key); break; // Gemini (AI Studio)
    case Auth.Bearer: replaceHeader(HeaderMap.Request, "authorization", "Bearer " + key); break;
    default: break; // Bedrock signs with SigV4: nothing the filter can add
  }
}

/** `/`, or `/` with a query string. */
function isRootPath(path: string): bool {
  return path == "/" || path.startsWith("/?");
}

/** A Content-Length header's value, or -1 when absent or not a plain decimal (at most 15 digits). */
function declaredLength(value: string | null): i64 {
  if (value === null || value.length == 0 || value.length > 15) return -1;
  let n: i64 = 0;
  for (let i = 0; i < value.length; i++) {
    const d = <i32>value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
