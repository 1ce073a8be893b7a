// One client request through the local sidecar: into the filter as an Envoy HTTP stream, out to
// the upstream as the filter released it, and the upstream's answer back through the filter to
// the client, chunk by chunk in both directions; then the access-log line.
//
// What reaches the upstream and the client is what the filter let through (HttpStream's
// upstream/downstream sinks): rewritten headers, path and body, local replies. `pump` moves it
// after every call into the stream, so body chunks go on as soon as the filter releases them and
// SSE reaches the client event by event; only a filter returning StopIterationAndBuffer holds a
// body back.
import { request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage, type ServerResponse } from "node:http";
import { request as httpsRequest, type Agent as HttpsAgent } from "node:https";
import { isIP, type Socket } from "node:net";
import { randomUUID } from "node:crypto";
import type { WasmVm } from "../host/abi/vm";
import type { HttpStream } from "../host/envoy/stream";
import { formatAccessLog, type AccessLogContext } from "../host/envoy/access-log";
import { connectionListed, headerPairs, requestTarget, toNodeHeaders } from "./http-headers";

/** Where every request goes, resolved once per listener. */
export interface Upstream {
  url: URL;
  isHttps: boolean;
  /** Host name without IPv6 brackets (for the socket and SNI). */
  hostname: string;
  port: number;
  agent: HttpAgent | HttpsAgent;
}

export interface ForwardingOptions {
  vm: WasmVm;
  upstream: Upstream;
  /** Send `Host: <upstream host>` instead of the request's authority (explicit providers). */
  hostRewrite: boolean;
  accessLogFormat: Record<string, string>;
  accessLog: (line: string) => void;
  logHandlers?: ((ctx: AccessLogContext) => void)[];
  onError: (message: string) => void;
}

type RequestTarget = NonNullable<ReturnType<typeof requestTarget>>;

/** Answers a request the sidecar cannot forward; returns the target otherwise. */
function acceptedTarget(req: IncomingMessage, res: ServerResponse): RequestTarget | undefined {
  const target = requestTarget(req.url ?? "/", req.headers.host);
  if (target && target.scheme === "http") return target;
  const msg = target ? `the local sidecar only sees plain http:// requests (got ${target.scheme}://)\n` : `bad request target ${req.url}\n`;
  res.writeHead(400, { "content-type": "text/plain", "content-length": String(Buffer.byteLength(msg)) });
  res.end(msg);
  return undefined;
}

/** The request headers as the filter sees them in a sidecar: pseudo-headers from the target,
 *  hop-by-hop ones dropped, and Envoy's additions (x-request-id, x-forwarded-proto). */
function filterRequestHeaders(req: IncomingMessage, target: RequestTarget): [string, string][] {
  const inPairs = headerPairs(req.rawHeaders);
  const drop = connectionListed(inPairs);
  drop.add("host");
  const headers: [string, string][] = [
    [":authority", target.authority],
    [":path", target.path],
    [":method", req.method ?? "GET"],
    [":scheme", "http"],
  ];
  for (const [k, v] of inPairs) if (!drop.has(k)) headers.push([k, v]);
  if (!inPairs.some(([k]) => k === "x-request-id")) headers.push(["x-request-id", randomUUID()]);
  headers.push(["x-forwarded-proto", "http"]);
  return headers;
}

function newStream(vm: WasmVm, req: IncomingMessage, target: RequestTarget): HttpStream {
  const authorityHostname = target.authority.replace(/:\d+$/, "");
  const authorityPort = /:(\d+)$/.exec(target.authority)?.[1] ?? "80";
  const sock = req.socket;
  return vm.newStream({
    protocol: req.httpVersion === "1.0" ? "HTTP/1.0" : "HTTP/1.1",
    sourceAddress: `${sock.remoteAddress}:${sock.remotePort}`,
    destinationAddress: `${sock.localAddress}:${sock.localPort}`,
    upstreamCluster: `outbound|${authorityPort}||${authorityHostname}`,
  });
}

const bytesOf = (chunk: Buffer) => new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);

/** Forwards one request; `forwardRequest` is the entry point. */
class ForwardedRequest {
  private upReq: ClientRequest | undefined;
  private upRes: IncomingMessage | undefined;
  /** Request body chunks written upstream, response body chunks written to the client. */
  private upSent = 0;
  private downSent = 0;
  private upEnded = false;
  private requestSentTime = 0;
  private finished = false;
  /** A call into the host threw: the exchange is abandoned. */
  private broken = false;

  constructor(
    private readonly o: ForwardingOptions,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly target: RequestTarget,
    private readonly stream: HttpStream,
  ) {}

  start(): void {
    this.res.on("close", () => this.finish());
    const req = this.req;
    const hasBody =
      req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined;
    this.guard("request headers", () => this.stream.sendRequestHeaders(filterRequestHeaders(req, this.target), !hasBody));
    if (!hasBody) {
      req.resume();
      return;
    }
    req.on("data", (chunk: Buffer) => this.guard("request body", () => this.stream.sendRequestBody(bytesOf(chunk), false)));
    req.on("end", () => this.guard("request end", () => this.stream.sendRequestBody(new Uint8Array(0), true)));
  }

  /** Runs one call into the host; a host bug becomes a 500 (or a reset), not a crash. */
  private guard(what: string, f: () => void): void {
    if (this.broken) return;
    try {
      f();
    } catch (e) {
      this.broken = true;
      this.o.onError(`local proxy: host error in ${what}: ${(e as Error).message}`);
      this.upReq?.destroy();
      if (!this.res.headersSent) {
        this.res.writeHead(500, { "content-type": "text/plain" });
        this.res.end("local proxy: host error\n");
      } else this.res.destroy();
      return;
    }
    this.pump();
  }

  /** Moves whatever the filter released since the last call to the upstream and the client. */
  private pump(): void {
    if (this.broken) return;
    this.pumpUpstream();
    this.pumpDownstream();
    const { stream, res, upReq } = this;
    if (stream.resetReason && !res.writableEnded) {
      upReq?.destroy();
      res.destroy();
    } else if (stream.localReply && upReq && !upReq.destroyed && !this.upRes) {
      upReq.destroy(); // the filter answered: the upstream call is abandoned
    }
  }

  private pumpUpstream(): void {
    const { stream } = this;
    const up = stream.upstream;
    if (up.headers && !this.upReq && !stream.localReply && !stream.resetReason) this.startUpstream();
    const upReq = this.upReq;
    if (!upReq || this.upEnded) return;
    while (this.upSent < up.bodyChunks.length) upReq.write(up.bodyChunks[this.upSent++]);
    if (up.endOfStream) {
      this.upEnded = true;
      upReq.end();
    }
  }

  private pumpDownstream(): void {
    const { res } = this;
    const down = this.stream.downstream;
    if (down.headers && !res.headersSent) {
      const status = Number(down.headers.find(([k]) => k === ":status")?.[1] ?? 502);
      res.writeHead(status, toNodeHeaders(down.headers, connectionListed(down.headers)));
      res.flushHeaders();
    }
    if (!res.headersSent || res.writableEnded) return;
    while (this.downSent < down.bodyChunks.length) res.write(down.bodyChunks[this.downSent++]);
    if (down.endOfStream) {
      if (down.trailers && down.trailers.length > 0) res.addTrailers(toNodeHeaders(down.trailers));
      res.end();
    }
  }

  /** Sends the request headers the filter released to the upstream. */
  private startUpstream(): void {
    const { o, stream } = this;
    const u = o.upstream;
    const h = stream.upstream.headers!;
    const method = h.find(([k]) => k === ":method")?.[1] ?? "GET";
    const path = h.find(([k]) => k === ":path")?.[1] ?? "/";
    const authority = h.find(([k]) => k === ":authority")?.[1] ?? this.target.authority;
    const nodeHeaders = toNodeHeaders(h);
    nodeHeaders.host = o.hostRewrite ? u.url.host : authority;
    this.requestSentTime = Date.now();
    const r = (u.isHttps ? httpsRequest : httpRequest)({
      protocol: u.url.protocol,
      hostname: u.hostname,
      port: u.port,
      method,
      path,
      headers: nodeHeaders,
      agent: u.agent,
      // TLS origination as the DestinationRule does it: SNI = the provider's host name.
      ...(u.isHttps && isIP(u.hostname) === 0 ? { servername: u.hostname } : {}),
    });
    this.upReq = r;
    r.on("socket", (s: Socket) => {
      const set = () => {
        if (s.remoteAddress) stream.info.upstreamAddress = `${s.remoteAddress}:${s.remotePort}`;
      };
      if (s.remoteAddress) set();
      else s.once("connect", set);
    });
    r.on("response", (resp) => this.onUpstreamResponse(resp, method));
    r.on("error", (e: NodeJS.ErrnoException) => this.onUpstreamError(e));
  }

  private onUpstreamResponse(resp: IncomingMessage, method: string): void {
    const { stream, res } = this;
    this.upRes = resp;
    const responseHeadersTime = Date.now();
    const pairs = headerPairs(resp.rawHeaders);
    const skip = connectionListed(pairs);
    const out: [string, string][] = [[":status", String(resp.statusCode ?? 502)]];
    for (const [k, v] of pairs) if (!skip.has(k)) out.push([k, v]);
    out.push(["x-envoy-upstream-service-time", String(responseHeadersTime - this.requestSentTime)]);
    const status = resp.statusCode ?? 502;
    const noBody =
      method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200) || resp.headers["content-length"] === "0";
    this.guard("response headers", () => stream.sendResponseHeaders(out, noBody));
    resp.on("data", (chunk: Buffer) => {
      if (noBody) return;
      this.guard("response body", () => stream.sendResponseBody(bytesOf(chunk), false));
      if (!res.writableNeedDrain) return;
      resp.pause();
      res.once("drain", () => resp.resume());
    });
    resp.on("end", () => {
      if (noBody) return;
      const trailers = headerPairs(resp.rawTrailers);
      if (trailers.length > 0) this.guard("response trailers", () => stream.sendResponseTrailers(trailers));
      else this.guard("response end", () => stream.sendResponseBody(new Uint8Array(0), true));
    });
    resp.on("error", () => {
      /* reported through 'aborted'/'close' */
    });
    resp.on("aborted", () => this.onUpstreamReset("upstream reset after response headers"));
  }

  private onUpstreamError(e: NodeJS.ErrnoException): void {
    const { stream } = this;
    if (this.finished || this.res.writableEnded) return;
    if (this.upRes) return this.onUpstreamReset(e.message);
    // Envoy's router: no response from the upstream → 503 local reply through the filters.
    stream.responseFlags = "UF";
    stream.info.upstreamTransportFailureReason = e.code ?? e.message;
    const body = `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${e.code ?? e.message}`;
    this.guard("upstream failure", () => {
      stream.sendResponseHeaders(
        [
          [":status", "503"],
          ["content-length", String(Buffer.byteLength(body))],
          ["content-type", "text/plain"],
        ],
        false,
      );
      stream.sendResponseBody(body, true);
    });
  }

  private onUpstreamReset(reason: string): void {
    if (this.finished || this.res.writableEnded) return;
    if (this.stream.responseFlags === "-") this.stream.responseFlags = "UR";
    this.o.onError(`local proxy: ${reason}`);
    this.res.destroy();
  }

  /** The client side closed: end the stream (on_log/on_done/on_delete) and write the log line. */
  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (!this.res.writableFinished) this.upReq?.destroy(); // client went away
    try {
      this.stream.finish();
      const ctx = this.stream.accessLogContext();
      this.o.accessLog(formatAccessLog(this.o.accessLogFormat, ctx).replace(/\n$/, ""));
      for (const handler of this.o.logHandlers ?? []) handler(ctx);
    } catch (e) {
      this.o.onError(`local proxy: host error in finish: ${(e as Error).message}`);
    }
  }
}

/** Runs one client request through the filter to the upstream and back. */
export function forwardRequest(o: ForwardingOptions, req: IncomingMessage, res: ServerResponse): void {
  const target = acceptedTarget(req, res);
  if (!target) return;
  new ForwardedRequest(o, req, res, target, newStream(o.vm, req, target)).start();
}
