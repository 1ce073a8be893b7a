// Bedrock through real Envoy (both pinned versions) and the TypeScript host, observe-only:
// every recorded Bedrock exchange (tests/testdata/bedrock-*/: ConverseStream and
// InvokeModelWithResponseStream event streams, InvokeModel with the token-count headers,
// Converse JSON), generated streams, a corrupted one and an exception, the response written in
// pieces cut inside a prelude, between prelude and headers and mid-payload. The client gets the
// upstream's bytes unchanged; the access log shows exactly the recorded usage; all proxies agree
// on every field and counter.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cut } from "./helpers/harness";
import { ScriptedUpstream } from "./helpers/scripted-upstream";
import { ENVOYS, accessLogsAfter, filterState, llmproxyLines, send, startProxy, type ProxyUnderTest } from "./helpers/envoy";
import { EVENTSTREAM_HEADERS, converseStreamBody, exceptionMessage, invokeStreamBody } from "./helpers/eventstream";

interface Case {
  name: string;
  path: string;
  requestHeaders: Record<string, string>;
  request: string;
  headers: [string, string][];
  body: Buffer;
  /** Access-log values wanted (undefined: not published). */
  want: { model?: string; prompt?: number; completion?: number; cached?: number };
}

function recorded(): Case[] {
  const out: Case[] = [];
  for (const shape of ["bedrock-converse", "bedrock-invoke"]) {
    const dir = join(__dirname, "testdata", shape);
    for (const f of readdirSync(dir)
      .filter((n) => n.endsWith(".exchange.json"))
      .sort()) {
      const x = JSON.parse(readFileSync(join(dir, f), "utf8"));
      const e = JSON.parse(readFileSync(join(dir, f.replace(".exchange.json", ".expected.json")), "utf8"));
      const { host: _host, ...requestHeaders } = x.request.headers;
      out.push({
        name: `${shape}/${f}`,
        path: x.request.path,
        requestHeaders,
        request: x.request.body,
        headers: Object.entries(x.response.headers) as [string, string][],
        body: x.response.bodyBase64 !== undefined ? Buffer.from(x.response.bodyBase64, "base64") : Buffer.from(x.response.body),
        want: { model: e.model, prompt: e.prompt, completion: e.completion, cached: e.cached },
      });
    }
  }
  return out;
}

const CONVERSE = "/model/amazon.nova-pro-v1%3A0/converse-stream";
const INVOKE = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke-with-response-stream";
const corrupted = converseStreamBody({ prompt: 5, completion: 6 });
corrupted[corrupted.length - 3] ^= 0x40; // the last message's CRC
const GENERATED: Case[] = [
  {
    name: "generated converse-stream with cache read/write",
    path: CONVERSE,
    requestHeaders: { "content-type": "application/json" },
    request: '{"messages":[]}',
    headers: EVENTSTREAM_HEADERS,
    body: converseStreamBody({ prompt: 1203, completion: 87, cached: 1024, cacheWrite: 16 }),
    want: { model: "amazon.nova-pro-v1:0", prompt: 1203, completion: 87, cached: 1024 },
  },
  {
    name: "generated invoke-with-response-stream, invocation metrics differ",
    path: INVOKE,
    requestHeaders: { "content-type": "application/json" },
    request: '{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[]}',
    headers: EVENTSTREAM_HEADERS,
    body: invokeStreamBody("claude-3-haiku-20240307", { prompt: 25, completion: 74 }, { prompt: 31, completion: 80 }),
    want: { model: "claude-3-haiku-20240307", prompt: 31, completion: 80 },
  },
  {
    name: "corrupted message CRC: malformed, nothing counted",
    path: CONVERSE,
    requestHeaders: { "content-type": "application/json" },
    request: '{"messages":[]}',
    headers: EVENTSTREAM_HEADERS,
    body: corrupted,
    want: { model: "amazon.nova-pro-v1:0" },
  },
  {
    name: "exception after the usage: provider error, nothing counted",
    path: CONVERSE,
    requestHeaders: { "content-type": "application/json" },
    request: '{"messages":[]}',
    headers: EVENTSTREAM_HEADERS,
    body: Buffer.concat([converseStreamBody({ prompt: 5, completion: 6 }), exceptionMessage("throttlingException", "slow down")]),
    want: { model: "amazon.nova-pro-v1:0" },
  },
];
const CASES = [...recorded(), ...GENERATED];

/** Cut inside the first prelude (5), between prelude and headers (12), mid-message, and at a
 *  few fractions of the body. */
function pieces(b: Buffer): Buffer[] {
  return cut(b, [5, 12, 40, b.length >> 2, b.length >> 1, (b.length * 3) >> 2]).filter((p) => p.length > 0) as Buffer[];
}

let upstream: ScriptedUpstream;
const proxies: ProxyUnderTest[] = [];
let current: Case | undefined;

beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => ({
    status: 200,
    headers: current!.headers,
    pieces: pieces(current!.body),
    gapMs: 2,
  })).listen();
  for (const which of [...ENVOYS, "node"]) proxies.push(await startProxy(which, { upstream: new URL(upstream.url) }));
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await upstream?.close();
});

const num = (v: unknown) => (v === null || v === undefined || v === "-" ? undefined : Number(v));
const str = (v: unknown) => (v === null || v === undefined || v === "-" ? undefined : String(v));

describe("Bedrock through Envoy and the TypeScript host", () => {
  it(`${CASES.length} exchanges (recorded and generated), split across TCP writes: the recorded numbers, the same bytes`, async () => {
    for (const [index, c] of CASES.entries()) {
      current = c;
      const results = [];
      for (const p of proxies) {
        const res = await send(p.proxyUrl, {
          authority: "bedrock-runtime.us-east-1.amazonaws.com",
          path: c.path,
          headers: c.requestHeaders,
          body: [c.request],
        });
        const log = (await accessLogsAfter(p, index + 1))[index];
        results.push({ name: p.name, status: res.status, body: res.body.toString("latin1"), state: filterState(log) });
      }
      const state = results[0].state;
      expect(results[0].status, c.name).toBe(200);
      expect(results[0].body, c.name).toBe(c.body.toString("latin1"));
      expect(
        {
          model: str(state.response_model) ?? str(state.request_model),
          prompt: num(state.request_prompt_tokens),
          completion: num(state.request_completion_tokens),
          cached: num(state.request_cached_tokens),
        },
        c.name,
      ).toEqual(c.want);
      for (const r of results.slice(1))
        expect({ ...r, name: "" }, `${c.name}: ${r.name} vs ${results[0].name}`).toEqual({ ...results[0], name: "" });
    }
    const reference = await llmproxyLines(proxies[0]);
    const unparsed = (reason: string) =>
      reference
        .filter((l) => l.startsWith("asm_llm_proxy_unparsed_responses{") && l.includes(`"${reason}"`))
        .map((l) => Number(l.split(" ").pop()));
    expect(unparsed("malformed")).toEqual([1]);
    expect(unparsed("provider_error")).toEqual([1]);
    expect(reference.some((l) => l.startsWith("asm_llm_proxy_unparsed_responses{") && l.includes("event_stream"))).toBe(false);
    for (const p of proxies.slice(1)) expect(await llmproxyLines(p), p.name).toEqual(reference);
  });
});
