// The recorded exchanges of tests/testdata/<shape>/ (format: tests/testdata/README.md): real
// request/response pairs from the providers' SDK repositories and documentation, each with the
// numbers its recorded usage says the filter must publish.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { repoRoot } from "../../repo/manifests";

export const TESTDATA = join(repoRoot, "tests", "testdata");

export interface RecordedSource {
  repository?: string;
  url?: string;
  path: string;
  commit?: string;
  date?: string;
  licence: string;
  note?: string;
}

export interface RecordedExchange {
  source: RecordedSource;
  request: { method: string; path: string; headers: Record<string, string>; body: string };
  response: { status: number; headers: Record<string, string>; body?: string; bodyBase64?: string };
}

/** What the filter must publish; a key left out means the filter publishes no value for it
 *  (`model: null`: neither the request nor the response names one). */
export interface RecordedExpected {
  model: string | null;
  prompt?: number;
  completion?: number;
  cached?: number;
  cacheWrite?: number;
  reasoning?: number;
  /** Seconds of audio a duration-billed transcription reports (filter state only). */
  audioSeconds?: number;
}

export interface RecordedCase {
  shape: string;
  name: string;
  exchange: RecordedExchange;
  expected: RecordedExpected;
  requestBody: Uint8Array;
  responseBody: Uint8Array;
}

export const EXPECTED_KEYS = ["prompt", "completion", "cached", "cacheWrite", "reasoning", "audioSeconds"] as const;

/** The shape directories under tests/testdata/. */
export function recordedShapes(): string[] {
  if (!existsSync(TESTDATA)) return [];
  return readdirSync(TESTDATA)
    .filter((d) => statSync(join(TESTDATA, d)).isDirectory())
    .sort();
}

/** Every recorded case of every shape, in a stable order. */
export function recordedCases(): RecordedCase[] {
  const out: RecordedCase[] = [];
  for (const shape of recordedShapes()) {
    const dir = join(TESTDATA, shape);
    for (const f of readdirSync(dir).sort()) {
      const m = /^(.+)\.exchange\.json$/.exec(f);
      if (!m) continue;
      const exchange = JSON.parse(readFileSync(join(dir, f), "utf8")) as RecordedExchange;
      const expected = JSON.parse(readFileSync(join(dir, `${m[1]}.expected.json`), "utf8")) as RecordedExpected;
      const r = exchange.response;
      const responseBody =
        r.bodyBase64 !== undefined ? new Uint8Array(Buffer.from(r.bodyBase64, "base64")) : new TextEncoder().encode(r.body ?? "");
      out.push({ shape, name: m[1], exchange, expected, requestBody: new TextEncoder().encode(exchange.request.body), responseBody });
    }
  }
  return out;
}

/** A case's request headers without `host` (the authority) and the framing headers the
 *  sender sets itself. */
export function requestHeaders(c: RecordedCase): [string, string][] {
  return Object.entries(c.exchange.request.headers).filter(([k]) => !/^(host|content-length|transfer-encoding|connection)$/i.test(k));
}

export function responseHeaders(c: RecordedCase): [string, string][] {
  return Object.entries(c.exchange.response.headers).filter(([k]) => !/^(content-length|transfer-encoding|connection)$/i.test(k));
}

export function authority(c: RecordedCase): string {
  return c.exchange.request.headers.host ?? c.exchange.request.headers.Host ?? "llm.example.com";
}
