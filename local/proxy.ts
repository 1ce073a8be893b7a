// The local sidecar's HTTP listener: every request runs through the wasm filter (one WasmVm,
// on the Node event loop, like one Envoy worker) on its way to one upstream (the embedded mock
// or a real provider), chunk by chunk in both directions.
//
// - Accepts forward-proxy requests (absolute-form URI, `curl -x http://127.0.0.1:PORT
//   http://dashscope.aliyuncs.com`), CONNECT tunnels to plain-HTTP ports (undici's ProxyAgent)
//   and plain requests (`Host:` header); the filter sees the original authority as :authority,
//   as a sidecar intercepting the call would. Every request goes to the one upstream.
// - Each request is forwarded by forwarded-request.ts: through the filter, to the upstream, back
//   through the filter, then one access-log line. Envoy's additions to the request
//   (x-request-id, x-forwarded-proto) and response (x-envoy-upstream-service-time); upstream
//   connect failures become Envoy's 503 (flag UF).
import { createServer, Agent as HttpAgent, type IncomingMessage, type Server } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { rootCertificates } from "node:tls";
import type { AddressInfo, Socket } from "node:net";
import type { WasmVm } from "../host/abi/vm";
import type { AccessLogContext } from "../host/envoy/access-log";
import { forwardRequest, type Upstream } from "./forwarded-request";

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

/** The upstream every request goes to, with one keep-alive agent for all of them. */
function upstreamOf(o: ProxyOptions): Upstream {
  const isHttps = o.upstream.protocol === "https:";
  const agent = isHttps
    ? new HttpsAgent({ keepAlive: true, ...(o.upstreamCa ? { ca: [...rootCertificates, o.upstreamCa.toString()] } : {}) })
    : new HttpAgent({ keepAlive: true });
  return {
    url: o.upstream,
    isHttps,
    hostname: o.upstream.hostname.replace(/^\[|\]$/g, ""),
    port: o.upstream.port !== "" ? Number(o.upstream.port) : isHttps ? 443 : 80,
    agent,
  };
}

export async function startProxy(o: ProxyOptions): Promise<ProxyServer> {
  const upstream = upstreamOf(o);
  const forwarding = {
    vm: o.vm,
    upstream,
    hostRewrite: o.hostRewrite,
    accessLogFormat: o.accessLogFormat,
    accessLog: o.accessLog,
    logHandlers: o.logHandlers,
    onError: o.onError ?? ((m: string) => process.stderr.write(`${m}\n`)),
  };
  const sockets = new Set<Socket>();
  let active = 0;

  const server = createServer((req, res) => {
    active++;
    let done = false;
    res.on("close", () => {
      if (!done) {
        done = true;
        active--;
      }
    });
    forwardRequest(forwarding, req, res);
  });

  // CONNECT: clients such as undici's ProxyAgent tunnel even http:// through a proxy. A tunnel
  // to a plain-HTTP port is accepted and its requests are parsed here like any other (origin-form
  // with a Host header); a tunnel to 443 would carry TLS, which a sidecar cannot read either.
  server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const port = /:(\d+)$/.exec(req.url ?? "")?.[1];
    if (port === undefined || port === "443") {
      const msg = `CONNECT ${req.url}: the local sidecar cannot see inside TLS; send plain http:// (the mesh originates TLS), e.g. curl -x http://127.0.0.1:PORT http://dashscope.aliyuncs.com\n`;
      socket.end(
        `HTTP/1.1 405 Method Not Allowed\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(msg)}\r\nconnection: close\r\n\r\n${msg}`,
      );
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
        upstream.agent.destroy();
      }),
  };
}
