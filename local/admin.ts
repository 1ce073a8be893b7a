// The sidecar's stats endpoint on loopback: what Prometheus scrapes from an Istio sidecar on
// :15090/stats/prometheus (Envoy's Prometheus text, rendered by the host's StatsStore configured
// with the bootstrap ConfigMap's stats_tags), plus Envoy admin's plain /stats.
// Query parameters as in Envoy admin: `usedonly` and `filter=<regex>`.
import { createServer, type Server } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { StatsStore } from "../host/envoy/stats";
import { plainText, prometheusText } from "../host/envoy/prometheus";

export interface AdminServer {
  server: Server;
  port: number;
  url: string;
  close(): Promise<void>;
}

const PAGES = ["/stats/prometheus", "/stats", "/ready"];

export async function startAdmin(stats: StatsStore, port: number): Promise<AdminServer> {
  const sockets = new Set<Socket>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://admin");
    const send = (status: number, body: string, type = "text/plain; charset=UTF-8") => {
      res.writeHead(status, {
        "content-type": type,
        "content-length": String(Buffer.byteLength(body)),
        "cache-control": "no-cache, max-age=0",
      });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed\n");
    let filter: RegExp | undefined;
    const f = url.searchParams.get("filter");
    if (f !== null && f !== "") {
      try {
        filter = new RegExp(f);
      } catch {
        return send(400, `Invalid re2 regex: ${f}\n`);
      }
    }
    const usedOnly = url.searchParams.has("usedonly");
    switch (url.pathname) {
      case "/stats/prometheus":
        return send(200, prometheusText(stats.snapshot(), { usedOnly, filter }));
      case "/stats":
        return send(200, plainText(stats.snapshot(), { usedOnly, filter }));
      case "/ready":
        return send(200, "LIVE\n");
      case "/":
        return send(200, PAGES.map((p) => `${p}\n`).join(""));
      default:
        return send(404, `not found: ${url.pathname} (try ${PAGES.join(", ")})\n`);
    }
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    server,
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
