// The per-stream context: lifecycle glue only. It classifies the request, applies routing,
// feeds bodies to the parsers and hands the Usage record to the sinks once the response ends.
// Every body chunk passes on unchanged (Continue) unless a rewrite was configured for this
// request, and then only the request body is held, within a bound.
import { Context, FilterHeadersStatusValues, FilterDataStatusValues, FilterTrailersStatusValues } from "@solo-io/proxy-runtime/assembly";
import { LlmRoot } from "./root";
import { ApiShape } from "./apis/shape";
import { classifyPath } from "./apis/registry";
import { openai } from "./apis/openai";
import { anthropic } from "./apis/anthropic";
import { dashscope } from "./apis/dashscope";
import { F_MODEL, F_STREAM } from "./apis/fields";
import { JsonScanner, acquireScanner, releaseScanner } from "./json/scanner";
import { Buffer, bufferedSize, getBuffer, readBuffer, readPtr, getHeaderB, HeaderMap, removeHeader, replaceHeader, setBuffer, log, Level } from "./envoy";
import { decideRouting, hostOf, Routing } from "./routing";
import { ModelPolicy } from "./config";
import { rewriteRequest } from "./rewrite";
import { BodyKind, ResponseParser } from "./response";
import { Usage } from "./usage";
import { publishRequestModel, publishResult, countSkippedRewrite } from "./telemetry/publish";

// Header names, UTF-8 encoded once.
const H_AUTHORITY = String.UTF8.encode(":authority");
const H_PATH = String.UTF8.encode(":path");
const H_METHOD = String.UTF8.encode(":method");
const H_CONTENT_TYPE = String.UTF8.encode("content-type");
const H_ACCEPT = String.UTF8.encode("accept");
const H_DASHSCOPE_SSE = String.UTF8.encode("x-dashscope-sse");
const H_CONTENT_ENCODING = String.UTF8.encode("content-encoding");
const H_STATUS = String.UTF8.encode(":status");

/** Why a response's usage was not read (the llmproxy_reason tag). */
export const enum Skip {
  None = 0, ErrorStatus, Compressed, ContentType, Malformed, NoUsage, Incomplete, ProviderError,
}

export class LlmStream extends Context {
  private llm: ApiShape | null = null;
  private host: string = "";
  private routing: Routing | null = null;
  private buffering: bool = false;
  private requestScanner: JsonScanner | null = null;
  private requestDone: bool = false;
  usage: Usage = new Usage();
  stream: bool = false;
  private parser: ResponseParser | null = null;
  private sniff: bool = false;
  private responseEnded: bool = false;
  private finalized: bool = false;
  status: i32 = 0;
  skip: Skip = Skip.None;

  constructor(context_id: u32, public root: LlmRoot) {
    super(context_id, root);
  }

  // ---- request ---------------------------------------------------------------------------

  onRequestHeaders(_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const config = this.root.config;
    const method = getHeaderB(HeaderMap.Request, H_METHOD);
    const post = method !== null && method == "POST";
    // Only a POST can be an LLM call, and only providers act on other methods: with none
    // configured, a GET costs one header read.
    if (!post && config.providers.length == 0) return FilterHeadersStatusValues.Continue;
    const authority = getHeaderB(HeaderMap.Request, H_AUTHORITY);
    this.host = hostOf(authority !== null ? authority : "");
    let path = getHeaderB(HeaderMap.Request, H_PATH);
    if (path === null) path = "/";
    const routing = decideRouting(config, this.host);
    const provider = routing.provider;
    if (provider !== null) {
      this.routing = routing;
      // The seed's bare `curl http://dashscope.aliyuncs.com`: a POST to `/` goes to the
      // provider's path; every other path (an API path, /v1/messages/batches...) keeps its own.
      if (post && provider.path.length > 0 && isRootPath(path)) {
        replaceHeader(HeaderMap.Request, ":path", provider.path);
        path = provider.path;
      }
      if (provider.apiKey.length > 0) {
        // Anthropic authenticates with x-api-key; OpenAI-compatible and DashScope with a bearer token.
        if (provider.shape == anthropic) replaceHeader(HeaderMap.Request, "x-api-key", provider.apiKey);
        else replaceHeader(HeaderMap.Request, "authorization", "Bearer " + provider.apiKey);
      }
      if (provider.dropAcceptEncoding) removeHeader(HeaderMap.Request, "accept-encoding");
      if (provider.hosts.length > 0 && !provider.hosts.includes(this.host)) {
        // A route switched provider: re-target the request. Envoy picks the route again by
        // itself: for ABI 0.2.x every request-header edit clears the route cache (1.33+), and
        // proxy_clear_route_cache exists only under ABI 0.1.0 (proxy-wasm-cpp-host src/wasm.cc).
        replaceHeader(HeaderMap.Request, ":authority", provider.hosts[0]);
        this.host = provider.hosts[0];
      }
    }
    if (!post) return FilterHeadersStatusValues.Continue;
    let shape = classifyPath(config.apiPaths, path);
    if (shape === null) return FilterHeadersStatusValues.Continue;
    const contentType = getHeaderB(HeaderMap.Request, H_CONTENT_TYPE);
    if (contentType !== null && !contentType.toLowerCase().includes("json")) return FilterHeadersStatusValues.Continue;
    this.llm = shape;
    if (shape == dashscope) {
      // DashScope native streams by header (X-DashScope-SSE: enable, or Accept: text/event-stream);
      // the other shapes say "stream": true in the body.
      const sse = getHeaderB(HeaderMap.Request, H_DASHSCOPE_SSE);
      const accept = getHeaderB(HeaderMap.Request, H_ACCEPT);
      if ((sse !== null && sse.toLowerCase() == "enable") || (accept !== null && accept.includes("text/event-stream"))) this.stream = true;
    }
    const encoding = getHeaderB(HeaderMap.Request, H_CONTENT_ENCODING);
    const readable = encoding === null || encoding.toLowerCase() == "identity";
    if (end_of_stream || !readable) {
      this.requestDone = true;
      if (!readable && provider !== null && this.wantsRewrite(shape)) countSkippedRewrite(this.root, "compressed");
      return FilterHeadersStatusValues.Continue;
    }
    this.requestScanner = acquireScanner(shape.request);
    if (provider !== null && this.wantsRewrite(shape)) {
      // The body may change length: the headers go upstream before the body is rewritten.
      removeHeader(HeaderMap.Request, "content-length");
      this.buffering = true;
    }
    return FilterHeadersStatusValues.Continue;
  }

  private wantsRewrite(shape: ApiShape): bool {
    const routing = this.routing;
    if (routing === null) return false;
    const provider = routing.provider;
    if (provider === null) return false;
    return routing.model.length > 0 || (provider.includeUsage && shape == openai);
  }

  onRequestBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    const scanner = this.requestScanner;
    if (scanner === null || this.requestDone) return FilterDataStatusValues.Continue;
    const length = <i32>body_buffer_length;
    if (this.buffering) {
      if (length <= this.root.config.maxRewriteBodyBytes) {
        if (!end_of_stream) return FilterDataStatusValues.StopIterationAndBuffer;
        this.rewriteBuffered(scanner, length);
        return FilterDataStatusValues.Continue;
      }
      // Over the bound (also when it all came in one last chunk): give up the rewrite, read what
      // is held, let it go and stream the rest.
      this.buffering = false;
      countSkippedRewrite(this.root, "too_large");
    }
    this.scanChunk(scanner, length);
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
    if (length <= 0) return;
    const size = readBuffer(Buffer.RequestBody, 0, <u32>length);
    scanner.feed(readPtr, size);
  }

  private rewriteBuffered(scanner: JsonScanner, length: i32): void {
    this.buffering = false;
    const body = Uint8Array.wrap(getBuffer(Buffer.RequestBody, 0, <u32>length));
    scanner.feed(body.dataStart, body.length);
    scanner.finish();
    const routing = this.routing!;
    if (!scanner.complete || !scanner.rootIsObject) {
      countSkippedRewrite(this.root, "malformed");
    } else {
      let model = routing.model;
      // Under the default policy a named model stays; "model": "" or null counts as none.
      if (model.length > 0 && routing.policy == ModelPolicy.Default && scanner.names(F_MODEL)) model = "";
      const provider = routing.provider!;
      const includeUsage = provider.includeUsage && this.llm == openai;
      const rewritten = rewriteRequest(body, scanner, model, includeUsage);
      if (rewritten !== null) {
        if (setBuffer(Buffer.RequestBody, 0, <u32>body.length, rewritten.buffer)) {
          if (model.length > 0) {
            this.usage.requestModel = Uint8Array.wrap(String.UTF8.encode(model));
          }
        } else {
          countSkippedRewrite(this.root, "refused");
        }
      }
    }
    this.endRequest(scanner);
  }

  private endRequest(scanner: JsonScanner): void {
    this.requestDone = true;
    scanner.finish();
    if (this.usage.requestModel === null) this.usage.requestModel = scanner.string(F_MODEL);
    if (scanner.isTrue(F_STREAM)) this.stream = true;
    this.requestScanner = null;
    releaseScanner(scanner);
    publishRequestModel(this);
  }

  // ---- response --------------------------------------------------------------------------

  onResponseHeaders(_headers: u32, end_of_stream: bool): FilterHeadersStatusValues {
    const shape = this.llm;
    if (shape === null) return FilterHeadersStatusValues.Continue;
    const status = getHeaderB(HeaderMap.Response, H_STATUS);
    this.status = status !== null ? I32.parseInt(status) : 0;
    const encoding = getHeaderB(HeaderMap.Response, H_CONTENT_ENCODING);
    const contentType = getHeaderB(HeaderMap.Response, H_CONTENT_TYPE);
    const ct = contentType !== null ? contentType.toLowerCase() : "";
    if (this.status < 200 || this.status >= 300) {
      this.skip = Skip.ErrorStatus;
    } else if (encoding !== null && encoding.toLowerCase() != "identity") {
      this.skip = Skip.Compressed;
    } else if (ct.includes("text/event-stream")) {
      this.parser = ResponseParser.acquire(shape, BodyKind.Sse, this.usage);
    } else if (ct.includes("json")) {
      this.parser = ResponseParser.acquire(shape, BodyKind.Json, this.usage);
    } else {
      this.sniff = true; // no or odd content type: decide from the first bytes
    }
    if (end_of_stream) this.endResponse();
    return FilterHeadersStatusValues.Continue;
  }

  onResponseBody(body_buffer_length: usize, end_of_stream: bool): FilterDataStatusValues {
    if (this.llm === null || this.responseEnded) return FilterDataStatusValues.Continue;
    if (body_buffer_length > 0 && (this.parser !== null || this.sniff)) {
      const size = readBuffer(Buffer.ResponseBody, 0, <u32>body_buffer_length);
      if (this.sniff) this.sniffKind(readPtr, size);
      const parser = this.parser;
      if (parser !== null) parser.feed(readPtr, size);
    }
    if (end_of_stream) this.endResponse();
    return FilterDataStatusValues.Continue;
  }

  onResponseTrailers(_trailers: u32): FilterTrailersStatusValues {
    if (this.llm !== null && !this.responseEnded) this.endResponse();
    return FilterTrailersStatusValues.Continue;
  }

  private sniffKind(p: usize, n: i32): void {
    let i = 0;
    while (i < n && load<u8>(p + <usize>i) <= 0x20) i++;
    if (i == n) return; // only blanks so far
    this.sniff = false;
    const c = load<u8>(p + <usize>i);
    if (c == 0x7b) this.parser = ResponseParser.acquire(this.llm!, BodyKind.Json, this.usage);
    else if (c == 0x64 /* d */ || c == 0x3a /* : */ || c == 0x65 /* e */ || c == 0x69 /* i */) this.parser = ResponseParser.acquire(this.llm!, BodyKind.Sse, this.usage);
    else this.skip = Skip.ContentType;
  }

  private endResponse(): void {
    this.responseEnded = true;
    const parser = this.parser;
    if (parser !== null) {
      parser.finish();
      if (parser.empty) this.skip = Skip.NoUsage; // no body, or an event stream with no data events
      else if (!parser.sound) this.skip = Skip.Malformed;
      else if (this.usage.providerError) this.skip = Skip.ProviderError;
      else if (!this.usage.hasTokens) this.skip = Skip.NoUsage;
    } else if (this.skip == Skip.None) {
      this.skip = this.sniff ? Skip.NoUsage : Skip.ContentType;
    }
    this.finalize(true);
  }

  // ---- end of stream ---------------------------------------------------------------------

  onLog(): void {
    // Reached without a response end: an upstream reset or a client abort.
    if (this.llm !== null && !this.finalized) {
      if (!this.requestDone) {
        this.requestDone = true;
        // Cut off mid-request: a model already seen in the part that went upstream is still the
        // model asked for (a held body went nowhere, so it names nothing).
        const scanner = this.requestScanner;
        if (scanner !== null && !this.buffering && this.usage.requestModel === null) this.usage.requestModel = scanner.string(F_MODEL);
        publishRequestModel(this);
      }
      this.skip = Skip.Incomplete;
      this.finalize(false);
    }
  }

  private finalize(complete: bool): void {
    if (this.finalized) return;
    this.finalized = true;
    if (this.root.config.debug) {
      log(Level.Debug, "asm-llm-proxy: stream " + this.context_id.toString() + " status " + this.status.toString() + " skip " + (<i32>this.skip).toString());
    }
    publishResult(this, complete && this.skip == Skip.None);
    const parser = this.parser;
    if (parser !== null) {
      this.parser = null;
      parser.release();
    }
  }

  get destination(): string {
    return this.host;
  }
}

/** `/`, or `/` with a query string. */
function isRootPath(path: string): bool {
  return path == "/" || path.startsWith("/?");
}
