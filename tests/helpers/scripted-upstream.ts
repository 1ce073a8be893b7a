// An upstream for the Envoy and differential tests: records every request exactly as it
// arrived (method, path, headers, body bytes) and answers from a script, writing the body in the
// given pieces with a pause between them, so that SSE events cross TCP writes and Envoy's body
// callbacks see them split.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export interface ScriptedResponse {
  status: number;
  headers: [string, string][];
  /** The body, written one piece at a time. */
  pieces: (string | Uint8Array)[];
  /** Pause between pieces (ms). */
  gapMs?: number;
}

export type Script = (req: ReceivedRequest) => ScriptedResponse;

export class ScriptedUpstream {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** The last 200 requests. */
  readonly received: ReceivedRequest[] = [];
  /** Responses whose client went away before the last piece. */
  aborted = 0;

  constructor(public script: Script) {}

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  async listen(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.on("connection", (s: Socket) => {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((r) => this.server!.listen(0, "127.0.0.1", () => r()));
    return this;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const r: ReceivedRequest = { method: req.method ?? "", path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks) };
    this.received.push(r);
    if (this.received.length > 200) this.received.shift();
    const answer = this.script(r);
    res.writeHead(answer.status, Object.fromEntries(answer.headers));
    res.flushHeaders();
    for (let i = 0; i < answer.pieces.length; i++) {
      if (res.destroyed) {
        this.aborted++;
        return;
      }
      res.write(answer.pieces[i]);
      if (answer.gapMs && i < answer.pieces.length - 1) await new Promise((t) => setTimeout(t, answer.gapMs));
    }
    res.end();
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }
}
