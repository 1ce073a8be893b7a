// Latency (issue 10 item 3): time to first token (streams), request duration, time per output
// token (streams), as filter state in ms and as Envoy histograms with the four tags and the
// bootstrap ConfigMap's buckets. The host clock is moved by the test between callbacks, the way
// Envoy's dispatcher time moves between the events of a stream.
import { describe, expect, it } from "vitest";
import { sidecar, manualClock } from "./helpers/sidecar";
import { openaiJson, openaiSse, geminiArray } from "./helpers/bodies";
import { bootstrapHistogramBuckets } from "../repo/manifests";
import { prometheusText } from "../host";
import { promtoolCheckMetrics, requirePrometheus } from "./helpers/prometheus";

const STATE = "wasm.asm.llmproxy.";
const TAGS =
  'llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="api.openai.com",llmproxy_model="gpt-4o-mini"';

function requestHeaders(path = "/v1/chat/completions"): [string, string][] {
  return [
    [":method", "POST"],
    [":path", path],
    [":authority", "api.openai.com"],
    [":scheme", "https"],
    ["content-type", "application/json"],
  ];
}

/** One streamed exchange: the response body in `chunks`, each arriving at its time (ms). */
async function timedStream(
  chunks: { at: number; bytes: string }[],
  opts: { contentType?: string; path?: string; request?: string; status?: number } = {},
) {
  const clock = manualClock();
  const s = await sidecar({ now: clock.now });
  const st = s.vm.newStream();
  clock.at(0);
  st.sendRequestHeaders(requestHeaders(opts.path), false);
  clock.at(5);
  st.sendRequestBody(opts.request ?? '{"model":"gpt-4o-mini","stream":true,"messages":[]}', true);
  clock.at(300);
  st.sendResponseHeaders(
    [
      [":status", String(opts.status ?? 200)],
      ["content-type", opts.contentType ?? "text/event-stream"],
    ],
    false,
  );
  chunks.forEach((c, i) => {
    clock.at(c.at);
    st.sendResponseBody(c.bytes, i === chunks.length - 1);
  });
  st.finish();
  return { s, fs: Object.fromEntries([...st.filterState].map(([k, e]) => [k, Buffer.from(e.value).toString()])) as Record<string, string> };
}

/** Splits an SSE body into its events (each keeps its blank line). */
const events = (sse: string) => sse.split(/(?<=\n\n)/);

describe("latency of a streamed response", () => {
  const completion = 101;
  const body = events(openaiSse("gpt-4o-mini", { prompt: 8, completion }, { words: 3 }));

  it("time to first token = request start to the first event with generated content; duration = to the end; per output token = the rest / (completion - 1)", async () => {
    // openaiSse's first chunk is the role with "content": "" (no token yet); the second has text
    expect(body[0]).toContain('"content":""');
    const { s, fs } = await timedStream(body.map((e, i) => ({ at: 450 + i * 400, bytes: e })));
    const first = 850;
    const end = 450 + (body.length - 1) * 400;
    expect(fs[STATE + "time_to_first_token_ms"]).toBe(String(first));
    expect(fs[STATE + "request_duration_ms"]).toBe(String(end));
    expect(fs[STATE + "time_per_output_token_ms"]).toBe(String(Math.round((end - first) / (completion - 1))));
    const samples = (name: string) =>
      s.stats
        .all("histogram")
        .filter((h) => h.extractedName === `wasmcustom.${name}`)
        .flatMap((h) => h.samples);
    expect(samples("asm_llm_proxy_time_to_first_token_ms")).toEqual([first]);
    expect(samples("asm_llm_proxy_request_duration_ms")).toEqual([end]);
    expect(samples("asm_llm_proxy_time_per_output_token_ms")).toEqual([Math.round((end - first) / (completion - 1))]);
  });

  it("the first token is when its event completes, not when its first bytes arrive", async () => {
    const first = body[1];
    const { fs } = await timedStream([
      { at: 350, bytes: body[0] },
      { at: 400, bytes: first.slice(0, 20) },
      { at: 700, bytes: first.slice(20) },
      ...body.slice(2).map((e, i) => ({ at: 800 + i * 10, bytes: e })),
    ]);
    expect(fs[STATE + "time_to_first_token_ms"]).toBe("700");
  });

  it("Responses API and Anthropic: lifecycle events before the first delta are not the first token", async () => {
    const { responsesSse, anthropicSse } = await import("./helpers/bodies");
    for (const [sse, path, firstContent] of [
      [responsesSse("gpt-5-mini", { prompt: 5, completion: 9 }, { words: 2 }), "/v1/responses", "response.output_text.delta"],
      [anthropicSse("claude-sonnet-4-5", { prompt: 5, completion: 9 }), "/v1/messages", "content_block_delta"],
    ] as const) {
      const evs = events(sse);
      const at = evs.findIndex((e) => e.includes(`event: ${firstContent}`));
      expect(at).toBeGreaterThan(0);
      const { fs } = await timedStream(
        evs.map((e, i) => ({ at: 1000 + i * 100, bytes: e })),
        { path, request: '{"model":"m","stream":true}' },
      );
      expect([path, fs[STATE + "time_to_first_token_ms"]]).toEqual([path, String(1000 + at * 100)]);
    }
  });

  it("Gemini's unframed JSON-array stream: the first bytes are the first token", async () => {
    const arr = geminiArray("gemini-2.0-flash-001", { prompt: 9, completion: 40 }, 3);
    const { fs } = await timedStream(
      [
        { at: 600, bytes: arr.slice(0, 50) },
        { at: 1600, bytes: arr.slice(50) },
      ],
      {
        contentType: "application/json",
        path: "/v1beta/models/gemini-2.0-flash-001:streamGenerateContent",
        request: '{"contents":[]}',
      },
    );
    expect(fs[STATE + "time_to_first_token_ms"]).toBe("600");
    expect(fs[STATE + "request_duration_ms"]).toBe("1600");
    expect(fs[STATE + "time_per_output_token_ms"]).toBe(String(Math.round(1000 / 39)));
  });

  it("an error status or a stream cut off publishes no latency", async () => {
    const err = await timedStream([{ at: 900, bytes: '{"error":{"message":"rate limited"}}' }], {
      status: 429,
      contentType: "application/json",
    });
    expect(Object.keys(err.fs).filter((k) => k.endsWith("_ms"))).toEqual([]);
    expect(err.s.stats.all("histogram")).toEqual([]);
    const clock = manualClock();
    const s = await sidecar({ now: clock.now });
    const st = s.vm.newStream();
    st.sendRequestHeaders(requestHeaders(), false);
    st.sendRequestBody('{"model":"gpt-4o-mini","stream":true}', true);
    st.sendResponseHeaders(
      [
        [":status", "200"],
        ["content-type", "text/event-stream"],
      ],
      false,
    );
    clock.at(1000);
    st.sendResponseBody(body[0], false);
    st.finish(); // reset before the end
    expect([...st.filterState.keys()].filter((k) => k.endsWith("_ms"))).toEqual([]);
  });
});

describe("latency of a JSON response", () => {
  it("duration only: no first token, no per-token time", async () => {
    const { s, fs } = await timedStream([{ at: 1234, bytes: openaiJson("gpt-4o-mini", { prompt: 3, completion: 40 }) }], {
      contentType: "application/json",
      request: '{"model":"gpt-4o-mini","messages":[]}',
    });
    expect(fs[STATE + "request_duration_ms"]).toBe("1234");
    expect(fs[STATE + "time_to_first_token_ms"]).toBeUndefined();
    expect(fs[STATE + "time_per_output_token_ms"]).toBeUndefined();
    expect(s.stats.all("histogram").map((h) => h.extractedName)).toEqual(["wasmcustom.asm_llm_proxy_request_duration_ms"]);
  });
});

describe("histograms on /stats/prometheus", () => {
  it("render _bucket with the ConfigMap's bounds, _sum and _count, with the four tags", async () => {
    const body = events(openaiSse("gpt-4o-mini", { prompt: 8, completion: 51 }, { words: 2 }));
    const { s } = await timedStream(body.map((e, i) => ({ at: 150 + i * 100, bytes: e }))); // first content at 250
    const ttft = bootstrapHistogramBuckets().find((b) => b.match.prefix === "wasmcustom.asm_llm_proxy_time_to_first_token_ms")!.buckets;
    const lines = s.prometheus(/^asm_llm_proxy_time_to_first_token_ms/);
    expect(lines).toEqual([
      ...ttft.map((b) => `asm_llm_proxy_time_to_first_token_ms_bucket{${TAGS},le="${b}"} ${b >= 250 ? 1 : 0}`),
      `asm_llm_proxy_time_to_first_token_ms_bucket{${TAGS},le="+Inf"} 1`,
      `asm_llm_proxy_time_to_first_token_ms_sum{${TAGS}} 250`,
      `asm_llm_proxy_time_to_first_token_ms_count{${TAGS}} 1`,
    ]);
    // each family has its own buckets
    const duration = bootstrapHistogramBuckets().find((b) => b.match.prefix === "wasmcustom.asm_llm_proxy_request_duration_ms")!.buckets;
    expect(s.prometheus(/^asm_llm_proxy_request_duration_ms_bucket/).map((l) => /le="([^"]+)"/.exec(l)![1])).toEqual([
      ...duration.map(String),
      "+Inf",
    ]);
    expect(prometheusText(s.stats.snapshot())).toContain("# TYPE asm_llm_proxy_time_per_output_token_ms histogram\n");
  });

  const { available } = requirePrometheus();
  it.skipIf(!available)("promtool parses the histograms", async () => {
    const body = events(openaiSse("gpt-4o-mini", { prompt: 8, completion: 51 }, { words: 2 }));
    const { s } = await timedStream(body.map((e, i) => ({ at: 250 + i * 100, bytes: e })));
    const check = promtoolCheckMetrics(prometheusText(s.stats.snapshot()));
    expect(check.status, check.output).toBe(3); // lint findings only (names), no parse error
    expect(
      check.findings.filter(
        (f) => !/ no help text$| counter metrics should have "_total" suffix$| metric names should not contain abbreviated units$/.test(f),
      ),
    ).toEqual([]);
  });
});
