// The local sidecar's HTTP listener: every request runs through the wasm filter (one WasmVm,
// on the Node event loop, like one Envoy worker) on its way to one upstream (the embedded mock
// or a real provider), chunk by chunk in both directions.
//
// - Accepts forward-proxy requests (absolute-form URI, `curl -x http://127.0.0.1:PORT
//   http://dashscope.aliyuncs.com`), CONNECT tunnels to plain-HTTP ports (undici's ProxyAgent)
//   and plain requests (`Host:` header); the filter sees the original authority as :authority,
//   as a sidecar intercepting the call would. Every request goes to the one upstream.
// - What reaches the upstream and the client is what the filter let through (HttpStream's
//   upstream/downstream sinks): rewritten headers, path and body, local replies. Body chunks are
//   passed on as soon as the filter releases them; a filter returning StopIterationAndBuffer
//   is the only thing that holds a body back. SSE therefore reaches the client event by event.
// - Envoy's additions to the request (x-request-id, x-forwarded-proto) and response
//   (x-envoy-upstream-service-time); upstream connect failures become Envoy's 503 (flag UF).
// - After the exchange: on_log/on_done/on_delete, then one access-log line (the mesh's JSON
//   format, rendered by the host's access-log formatter).
import { createServer, request as httpRequest, Agent as HttpAgent, type IncomingMessage, type ServerResponse, type ClientRequest, type Server } from "node:http";
import { request as httpsRequest, Agent as HttpsAgent } from "node:https";
import { rootCertificates } from "node:tls";
import { isIP, type AddressInfo, type Socket } from "node:net";
import { randomUUID } from "node:crypto";
import type { WasmVm } from "../host/abi/vm";
import type { HttpStream } from "../host/envoy/stream";
import { formatAccessLog, type AccessLogContext } from "../host/envoy/access-log";

/** Hop-by-hop headers (RFC 9110 7.6.1) and the ones Envoy's codec owns. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authorization", "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade", "expect"]);

export interface ProxyOptions {
  vm: WasmVm;
  /** Listener port on 127.0.0.1 (0 = any free port). */
  port: number;
  /** Origin every request is sent to (http: or https:). */
  upstream: URL;
  /** Send `Host: <upstream host>` instead of the request's authority (explicit providers). */
  hostRewrite: boolean;
  /** Extra CA certificates (PEM) trusted for an https upstream, besides Node's defaults. */
  upstreamCa?: string | Buffer;
  /** The access-log format (labels of the mesh's envoyFileAccessLog provider). */
  accessLogFormat: Record<string, string>;
  /** One JSON line per request. */
  accessLog: (line: string) => void;
  /** Other access-log handlers of the stream (Istio's stats filter reports from one). */
  logHandlers?: ((ctx: AccessLogContext) => void)[];
  /** Problems of the local proxy itself (not the filter's logs). */
  onError?: (message: string) => void;
}

export interface ProxyServer {
  server: Server;
  port: number;
  url: string;
  /** Requests currently in flight. */
  readonly active: number;
  close(): Promise<void>;
}

/** Splits an HTTP/1 request target into the authority and the path the filter sees. */
export function requestTarget(url: string, hostHeader: string | undefined): { authority: string; path: string; scheme: string } | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(url);
  if (m) {
    const path = m[3] === "" ? "/" : m[3].startsWith("?") ? "/" + m[3] : m[3];
    return { authority: m[2], path, scheme: m[1].toLowerCase() };
  }
  if (!url.startsWith("/") && url !== "*") return undefined;
  return { authority: hostHeader ?? "", path: url, scheme: "http" };
}

function headerPairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}

/** Pairs → Node's header object (repeated names become arrays), skipping pseudo and hop-by-hop headers. */
function toNodeHeaders(pairs: readonly (readonly [string, string])[], skip: Set<string> = HOP_BY_HOP): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    if (k.startsWith(":") || skip.has(k)) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

function connectionListed(pairs: [string, string][]): Set<string> {
  const s = new Set(HOP_BY_HOP);
  for (const [k, v] of pairs) if (k === "connection") for (const t of v.split(",")) s.add(t.trim().toLowerCase());
  return s;
}

export async function startProxy(o: ProxyOptions): Promise<ProxyServer> {
  const isHttps = o.upstream.protocol === "https:";
  const agent = isHttps
    ? new HttpsAgent({ keepAlive: true, ...(o.upstreamCa ? { ca: [...rootCertificates, o.upstreamCa.toString()] } : {}) })
    : new HttpAgent({ keepAlive: true });
  const upstreamHostname = o.upstream.hostname.replace(/^\[|\]$/g, "");
  const upstreamPort = o.upstream.port !== "" ? Number(o.upstream.port) : isHttps ? 443 : 80;
  const sockets = new Set<Socket>();
  let active = 0;
  const onError = o.onError ?? ((m: string) => process.stderr.write(`${m}\n`));

  const server = createServer((req, res) => {
    active++;
    let done = false;
    res.on("close", () => {
      if (!done) {
        done = true;
        active--;
      }
    });
    handle(req, res);
  });

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const target = requestTarget(req.url ?? "/", req.headers.host);
    if (!target || target.scheme !== "http") {
      const msg = target ? `the local sidecar only sees plain http:// requests (got ${target.scheme}://)\n` : `bad request target ${req.url}\n`;
      res.writeHead(400, { "content-type": "text/plain", "content-length": String(Buffer.byteLength(msg)) });
      res.end(msg);
      return;
    }
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

    const authorityHost = target.authority.replace(/:\d+$/, "");
    const authorityPort = /:(\d+)$/.exec(target.authority)?.[1] ?? "80";
    const sock = req.socket;
    const stream: HttpStream = o.vm.newStream({
      protocol: req.httpVersion === "1.0" ? "HTTP/1.0" : "HTTP/1.1",
      sourceAddress: `${sock.remoteAddress}:${sock.remotePort}`,
      destinationAddress: `${sock.localAddress}:${sock.localPort}`,
      upstreamCluster: `outbound|${authorityPort}||${authorityHost}`,
    });

    let upReq: ClientRequest | undefined;
    let upRes: IncomingMessage | undefined;
    let upSent = 0; // request body chunks written upstream
    let upEnded = false;
    let downSent = 0; // response body chunks written to the client
    let responseHeadersTime = 0;
    let requestSentTime = 0;
    let finished = false;
    let broken = false;

    /** Runs one call into the host; a host bug becomes a 500 (or a reset), not a crash. */
    const guard = (what: string, f: () => void): void => {
      if (broken) return;
      try {
        f();
      } catch (e) {
        broken = true;
        onError(`local proxy: host error in ${what}: ${(e as Error).message}`);
        upReq?.destroy();
        if (!res.headersSent) {
          res.writeHead(500, { "content-type": "text/plain" });
          res.end("local proxy: host error\n");
        } else res.destroy();
        return;
      }
      pump();
    };

    const startUpstream = (): void => {
      const up = stream.upstream;
      const h = up.headers!;
      const method = h.find(([k]) => k === ":method")?.[1] ?? "GET";
      const path = h.find(([k]) => k === ":path")?.[1] ?? "/";
      const authority = h.find(([k]) => k === ":authority")?.[1] ?? target.authority;
      const nodeHeaders = toNodeHeaders(h);
      nodeHeaders.host = o.hostRewrite ? o.upstream.host : authority;
      requestSentTime = Date.now();
      const opts = {
        protocol: o.upstream.protocol,
        hostname: upstreamHostname,
        port: upstreamPort,
        method,
        path,
        headers: nodeHeaders,
        agent,
        // TLS origination as the DestinationRule does it: SNI = the provider's host name.
        ...(isHttps && isIP(upstreamHostname) === 0 ? { servername: upstreamHostname } : {}),
      };
      const r = (isHttps ? httpsRequest : httpRequest)(opts);
      upReq = r;
      r.on("socket", (s: Socket) => {
        const set = () => {
          if (s.remoteAddress) stream.info.upstreamAddress = `${s.remoteAddress}:${s.remotePort}`;
        };
        if (s.remoteAddress) set();
        else s.once("connect", set);
      });
      r.on("response", (resp) => onUpstreamResponse(resp, method));
      r.on("error", (e: NodeJS.ErrnoException) => onUpstreamError(e));
    };

    const onUpstreamResponse = (resp: IncomingMessage, method: string): void => {
      upRes = resp;
      responseHeadersTime = Date.now();
      const pairs = headerPairs(resp.rawHeaders);
      const skip = connectionListed(pairs);
      const out: [string, string][] = [[":status", String(resp.statusCode ?? 502)]];
      for (const [k, v] of pairs) if (!skip.has(k)) out.push([k, v]);
      out.push(["x-envoy-upstream-service-time", String(responseHeadersTime - requestSentTime)]);
      const status = resp.statusCode ?? 502;
      const noBody = method === "HEAD" || status === 204 || status === 304 || (status >= 100 && status < 200) || resp.headers["content-length"] === "0";
      guard("response headers", () => stream.sendResponseHeaders(out, noBody));
      resp.on("data", (chunk: Buffer) => {
        if (noBody) return;
        guard("response body", () => stream.sendResponseBody(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), false));
        if (!res.writableNeedDrain) return;
        resp.pause();
        res.once("drain", () => resp.resume());
      });
      resp.on("end", () => {
        if (noBody) return;
        const trailers = headerPairs(resp.rawTrailers);
        if (trailers.length > 0) guard("response trailers", () => stream.sendResponseTrailers(trailers));
        else guard("response end", () => stream.sendResponseBody(new Uint8Array(0), true));
      });
      resp.on("error", () => {
        /* reported through 'aborted'/'close' */
      });
      resp.on("aborted", () => onUpstreamReset("upstream reset after response headers"));
    };

    const onUpstreamError = (e: NodeJS.ErrnoException): void => {
      if (finished || res.writableEnded) return;
      if (upRes) return onUpstreamReset(e.message);
      // Envoy's router: no response from the upstream → 503 local reply through the filters.
      stream.responseFlags = "UF";
      stream.info.upstreamTransportFailureReason = e.code ?? e.message;
      const body = `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${e.code ?? e.message}`;
      guard("upstream failure", () => {
        stream.sendResponseHeaders(
          [[":status", "503"], ["content-length", String(Buffer.byteLength(body))], ["content-type", "text/plain"]],
          false,
        );
        stream.sendResponseBody(body, true);
      });
    };

    const onUpstreamReset = (reason: string): void => {
      if (finished || res.writableEnded) return;
      if (stream.responseFlags === "-") stream.responseFlags = "UR";
      onError(`local proxy: ${reason}`);
      res.destroy();
    };

    /** Moves whatever the filter released since the last call to the upstream and the client. */
    function pump(): void {
      if (broken) return;
      const up = stream.upstream;
      if (up.headers && !upReq && !stream.localReply && !stream.resetReason) startUpstream();
      if (upReq && !upEnded) {
        while (upSent < up.bodyChunks.length) upReq.write(up.bodyChunks[upSent++]);
        if (up.endOfStream) {
          upEnded = true;
          upReq.end();
        }
      }
      const down = stream.downstream;
      if (down.headers && !res.headersSent) {
        const status = Number(down.headers.find(([k]) => k === ":status")?.[1] ?? 502);
        res.writeHead(status, toNodeHeaders(down.headers, connectionListed(down.headers as [string, string][])));
        res.flushHeaders();
      }
      if (res.headersSent && !res.writableEnded) {
        while (downSent < down.bodyChunks.length) res.write(down.bodyChunks[downSent++]);
        if (down.endOfStream) {
          if (down.trailers && down.trailers.length > 0) res.addTrailers(toNodeHeaders(down.trailers));
          res.end();
        }
      }
      if (stream.resetReason && !res.writableEnded) {
        upReq?.destroy();
        res.destroy();
      } else if (stream.localReply && upReq && !upReq.destroyed && !upRes) {
        upReq.destroy(); // the filter answered: the upstream call is abandoned
      }
    }

    res.on("close", () => {
      if (finished) return;
      finished = true;
      if (!res.writableFinished) upReq?.destroy(); // client went away
      try {
        stream.finish();
        const ctx = stream.accessLogContext();
        o.accessLog(formatAccessLog(o.accessLogFormat, ctx).replace(/\n$/, ""));
        for (const handler of o.logHandlers ?? []) handler(ctx);
      } catch (e) {
        onError(`local proxy: host error in finish: ${(e as Error).message}`);
      }
    });

    const hasBody = req.headers["content-length"] !== undefined ? req.headers["content-length"] !== "0" : req.headers["transfer-encoding"] !== undefined;
    guard("request headers", () => stream.sendRequestHeaders(headers, !hasBody));
    if (!hasBody) {
      req.resume();
      return;
    }
    req.on("data", (chunk: Buffer) => {
      guard("request body", () => stream.sendRequestBody(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), false));
    });
    req.on("end", () => guard("request end", () => stream.sendRequestBody(new Uint8Array(0), true)));
  }

  // CONNECT: clients such as undici's ProxyAgent tunnel even http:// through a proxy. A tunnel
  // to a plain-HTTP port is accepted and its requests are parsed here like any other (origin-form
  // with a Host header); a tunnel to 443 would carry TLS, which a sidecar cannot read either.
  server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const port = /:(\d+)$/.exec(req.url ?? "")?.[1];
    if (port === undefined || port === "443") {
      const msg = `CONNECT ${req.url}: the local sidecar cannot see inside TLS; send plain http:// (the mesh originates TLS), e.g. curl -x http://127.0.0.1:PORT http://dashscope.aliyuncs.com\n`;
      socket.end(`HTTP/1.1 405 Method Not Allowed\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(msg)}\r\nconnection: close\r\n\r\n${msg}`);
      return;
    }
    socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
    if (head.length > 0) socket.unshift(head);
    server.emit("connection", socket);
  });
  server.on("clientError", (_e, socket: Socket) => {
    if (socket.writable) socket.end("HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
    else socket.destroy();
  });
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    get active() {
      return active;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
        agent.destroy();
      }),
  };
}
