// Drives one request/response exchange through a WasmVm with Envoy's callback sequence.
import type { WasmVm } from "../abi/vm";
import type { HttpStream, LocalReply } from "./stream";
import type { StreamInfo } from "./properties";

const enc = new TextEncoder();
const dec = new TextDecoder();

export type Body = Uint8Array | string | (Uint8Array | string)[];

export interface ExchangeResponse {
  status?: number;
  headers?: [string, string][];
  body?: Body;
  trailers?: [string, string][];
}

export interface UpstreamRequest {
  headers: [string, string][];
  body: Uint8Array;
  trailers: [string, string][] | null;
}

export interface Exchange {
  request: {
    method?: string;
    path?: string;
    authority: string;
    scheme?: string;
    headers?: [string, string][];
    body?: Body;
    trailers?: [string, string][];
  };
  response: ExchangeResponse | ((upstreamRequest: UpstreamRequest) => ExchangeResponse);
  abortAfter?: "requestHeaders" | "requestBody" | "responseHeaders" | "responseBody";
  info?: StreamInfo;
}

export interface ExchangeResult {
  upstreamRequest: UpstreamRequest | null;
  downstreamResponse: { status: number; headers: [string, string][]; body: Uint8Array; bodyText: string };
  filterState: Record<string, string>;
  localReply?: LocalReply;
  stream: HttpStream;
}

function chunks(b: Body | undefined): Uint8Array[] {
  if (b === undefined) return [];
  const list = Array.isArray(b) ? b : [b];
  return list.map((x) => (typeof x === "string" ? enc.encode(x) : x));
}

export function runExchange(vm: WasmVm, ex: Exchange): ExchangeResult {
  const stream = vm.newStream(ex.info);
  const rq = ex.request;
  const reqChunks = chunks(rq.body);
  const headers: [string, string][] = [
    [":method", rq.method ?? "POST"],
    [":path", rq.path ?? "/"],
    [":authority", rq.authority],
    [":scheme", rq.scheme ?? "http"],
    ...(rq.headers ?? []).map(([k, v]) => [k.toLowerCase(), v] as [string, string]),
  ];
  const done = () => result(stream);
  stream.sendRequestHeaders(headers, reqChunks.length === 0 && !rq.trailers);
  if (ex.abortAfter === "requestHeaders") return (stream.finish(), done());
  reqChunks.forEach((c, i) => stream.sendRequestBody(c, i === reqChunks.length - 1 && !rq.trailers));
  if (rq.trailers) stream.sendRequestTrailers(rq.trailers);
  if (ex.abortAfter === "requestBody") return (stream.finish(), done());

  const up = stream.upstream;
  const reached = up.headers !== null && up.endOfStream && !stream.localReply && !stream.resetReason;
  if (reached) {
    const upstreamRequest: UpstreamRequest = { headers: up.headers!, body: up.body(), trailers: up.trailers };
    const resp = typeof ex.response === "function" ? ex.response(upstreamRequest) : ex.response;
    const respChunks = chunks(resp.body);
    stream.sendResponseHeaders(
      [[":status", String(resp.status ?? 200)], ...(resp.headers ?? []).map(([k, v]) => [k.toLowerCase(), v] as [string, string])],
      respChunks.length === 0 && !resp.trailers,
    );
    if (ex.abortAfter !== "responseHeaders") {
      respChunks.forEach((c, i) => stream.sendResponseBody(c, i === respChunks.length - 1 && !resp.trailers));
      if (resp.trailers) stream.sendResponseTrailers(resp.trailers);
    }
  }
  stream.finish();
  return done();
}

function result(stream: HttpStream): ExchangeResult {
  const up = stream.upstream;
  const down = stream.downstream;
  const fs: Record<string, string> = {};
  for (const [k, e] of stream.filterState) fs[k] = dec.decode(e.value);
  const body = down.body();
  const statusHeader = down.headers?.find(([k]) => k === ":status")?.[1];
  return {
    upstreamRequest: up.headers ? { headers: up.headers, body: up.body(), trailers: up.trailers } : null,
    downstreamResponse: { status: statusHeader ? Number(statusHeader) : 0, headers: down.headers ?? [], body, bodyText: dec.decode(body) },
    filterState: fs,
    localReply: stream.localReply,
    stream,
  };
}
