// One HTTP request through a proxy in absolute form, as `curl -x` sends it: the tests' client
// for every sidecar (real Envoy or the TypeScript host).
import { request } from "node:http";

export interface SendOptions {
  method?: string;
  authority: string;
  path: string;
  headers?: Record<string, string>;
  /** The request body, written in these pieces. */
  body?: (string | Uint8Array)[];
  /** Close the connection once this many response body bytes arrived. */
  abortAfterBytes?: number;
}

export interface Received {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  aborted: boolean;
}

/** One request through a proxy in absolute form, as `curl -x` sends it. */
export function send(proxyUrl: string, o: SendOptions): Promise<Received> {
  const proxy = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: proxy.hostname,
        port: proxy.port,
        method: o.method ?? "POST",
        path: `http://${o.authority}${o.path}`,
        headers: { host: o.authority, ...(o.headers ?? {}) },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        let n = 0;
        res.on("data", (c: Buffer) => {
          chunks.push(c);
          n += c.length;
          if (o.abortAfterBytes !== undefined && n >= o.abortAfterBytes) {
            req.destroy();
            resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), aborted: true });
          }
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), aborted: false }));
        res.on("error", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks), aborted: true }));
      },
    );
    req.on("error", reject);
    for (const piece of o.body ?? []) req.write(piece);
    req.end();
  });
}
