// Compressed and odd responses: whatever the upstream or the client does, no wrong
// numbers are published, and what could not be read is counted by reason in
// asm_llm_proxy_unparsed_responses{llmproxy_reason=...}.
import { describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { openaiJson, openaiSse, dashscopeSse } from "./helpers/bodies";
import { STATE, TOKEN_STATE } from "./helpers/harness";

const JSON_CT: [string, string][] = [["content-type", "application/json"]];
const USAGE = openaiJson("gpt-4o-mini", { prompt: 7, completion: 9 });

function reasons(s: Sidecar): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of s.prometheus(/^asm_llm_proxy_unparsed_responses/)) {
    const m = /llmproxy_reason="([a-z_]+)"\} (\d+)/.exec(l);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}
function tokenSeries(s: Sidecar) {
  return s.prometheus(/^asm_llm_proxy_(prompt|completion)_tokens/);
}
function noNumbers(fs: Record<string, string>) {
  for (const k of Object.values(TOKEN_STATE)) expect(fs[STATE + k], k).toBeUndefined();
}

async function one(
  response: { status?: number; headers?: [string, string][]; body?: string | Uint8Array[] },
  request: Partial<{ method: string; path: string; headers: [string, string][]; body: string }> = {},
) {
  const s = await sidecar();
  const r = s.call({
    request: {
      method: request.method ?? "POST",
      path: request.path ?? "/v1/chat/completions",
      authority: "api.openai.com",
      headers: request.headers ?? JSON_CT,
      body: request.body ?? '{"model":"gpt-4o-mini","messages":[]}',
    },
    response,
  });
  return { s, r };
}

describe("responses that cannot be read publish no numbers and are counted by reason", () => {
  it("content-encoding br, zstd or stacked codings: not read (compressed)", async () => {
    for (const enc of ["br", "zstd", "gzip, br", "compress"]) {
      const { s, r } = await one({
        status: 200,
        headers: [...JSON_CT, ["content-encoding", enc]],
        body: [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), Buffer.from(USAGE)],
      });
      noNumbers(r.filterState);
      expect(r.filterState[STATE + "usage_skipped"]).toBe("compressed");
      expect(reasons(s)).toEqual({ compressed: 1 });
      expect(tokenSeries(s)).toEqual([]);
      expect(r.filterState[STATE + "request_model"]).toBe("gpt-4o-mini");
    }
  });
  it("content-encoding gzip / deflate over bytes that do not inflate: malformed, no numbers, bytes passed on", async () => {
    for (const enc of ["gzip", "GZIP", "deflate", "x-gzip"]) {
      const body = [Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0]), Buffer.from(USAGE)];
      const { s, r } = await one({ status: 200, headers: [...JSON_CT, ["content-encoding", enc]], body });
      noNumbers(r.filterState);
      expect(r.filterState[STATE + "usage_skipped"]).toBe("malformed");
      expect(reasons(s)).toEqual({ malformed: 1 });
      expect(Buffer.from(r.downstreamResponse.body).equals(Buffer.concat(body))).toBe(true);
    }
  });
  it("non-2xx statuses, even with a body that looks like usage", async () => {
    for (const status of [400, 401, 404, 429, 500, 502, 503, 302, 101]) {
      const { s, r } = await one({ status, headers: JSON_CT, body: USAGE });
      noNumbers(r.filterState);
      expect(reasons(s)).toEqual({ error_status: 1 });
    }
  });

  it("provider error bodies with status 200: OpenAI error object, DashScope code", async () => {
    const bodies: [string, string][] = [
      [
        "/v1/chat/completions",
        '{"error":{"message":"Rate limit","type":"requests","code":"rate_limit_exceeded"},"usage":{"prompt_tokens":1,"completion_tokens":1}}',
      ],
      [
        "/api/v1/services/aigc/text-generation/generation",
        '{"code":"InvalidApiKey","message":"Invalid API-key provided.","request_id":"x","usage":{"input_tokens":1,"output_tokens":1}}',
      ],
      ["/v1/messages", '{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'],
    ];
    for (const [path, body] of bodies) {
      const { s, r } = await one({ status: 200, headers: JSON_CT, body }, { path });
      noNumbers(r.filterState);
      expect(reasons(s)).toEqual({ provider_error: 1 });
    }
    // an SSE stream that turns into an error event
    const { s } = await one(
      { status: 200, headers: [["content-type", "text/event-stream"]], body: 'data: {"error":{"message":"boom"}}\n\n' },
      { body: '{"model":"m","stream":true}' },
    );
    expect(reasons(s)).toEqual({ provider_error: 1 });
    // "error": null is no error
    const ok = await one({ status: 200, headers: JSON_CT, body: '{"error":null,"usage":{"prompt_tokens":2,"completion_tokens":3}}' });
    expect(ok.r.filterState[STATE + TOKEN_STATE.prompt]).toBe("2");
  });

  it("content-type lies: JSON labelled text/plain is read; SSE labelled JSON publishes nothing", async () => {
    const a = await one({ status: 200, headers: [["content-type", "text/plain"]], body: USAGE });
    expect(a.r.filterState[STATE + TOKEN_STATE.prompt]).toBe("7");
    const b = await one({ status: 200, headers: JSON_CT, body: openaiSse("gpt-4o-mini", { prompt: 7, completion: 9 }) });
    noNumbers(b.r.filterState);
    expect(reasons(b.s)).toEqual({ malformed: 1 });
    const c = await one({ status: 200, headers: [["content-type", "text/html"]], body: "<html>502 Bad Gateway</html>" });
    noNumbers(c.r.filterState);
    expect(reasons(c.s)).toEqual({ content_type: 1 });
    const d = await one({ status: 200, headers: [], body: openaiSse("m", { prompt: 1, completion: 2 }) });
    expect(d.r.filterState[STATE + TOKEN_STATE.completion]).toBe("2");
  });

  it("malformed and truncated JSON; JSON without usage", async () => {
    const a = await one({ status: 200, headers: JSON_CT, body: USAGE.slice(0, -1) });
    noNumbers(a.r.filterState);
    expect(reasons(a.s)).toEqual({ malformed: 1 });
    const b = await one({ status: 200, headers: JSON_CT, body: '{"id":"x","choices":[]}' });
    expect(reasons(b.s)).toEqual({ no_usage: 1 });
    const c = await one({ status: 204, headers: JSON_CT });
    expect(reasons(c.s)).toEqual({ no_usage: 1 });
  });

  it("HEAD and GET requests are not LLM calls: nothing published, nothing counted", async () => {
    for (const method of ["HEAD", "GET", "OPTIONS"]) {
      const { s, r } = await one({ status: 200, headers: JSON_CT, body: method === "HEAD" ? undefined : USAGE }, { method, body: "" });
      expect(Object.keys(r.filterState).filter((k) => k.startsWith(STATE))).toEqual([]);
      expect(s.prometheus()).toEqual([]);
    }
  });
});

describe("streams cut off: on_log without end of stream", () => {
  async function cutOff(at: "request" | "responseHeaders" | "responseBody", response: string, contentType = "text/event-stream") {
    const s = await sidecar();
    const st = s.vm.newStream();
    st.sendRequestHeaders(
      [
        [":method", "POST"],
        [":path", "/v1/chat/completions"],
        [":authority", "api.openai.com"],
        [":scheme", "http"],
        ["content-type", "application/json"],
      ],
      false,
    );
    const req = Buffer.from('{"model":"gpt-4o-mini","stream":true,"messages":[]}');
    if (at === "request") {
      st.sendRequestBody(req.subarray(0, 30), false); // the client goes away mid-request
    } else {
      st.sendRequestBody(req, true);
      st.sendResponseHeaders(
        [
          [":status", "200"],
          ["content-type", contentType],
        ],
        false,
      );
      if (at === "responseBody") st.sendResponseBody(response, false); // the upstream resets
    }
    st.finish();
    const fs: Record<string, string> = {};
    const map = ((st.filterState as unknown as { map?: Map<string, { value: Uint8Array }> }).map ?? st.filterState) as Map<
      string,
      { value: Uint8Array }
    >;
    for (const [k, e] of map) fs[k] = Buffer.from(e.value).toString();
    expect(s.vm.failed).toBe(false);
    return { s, fs };
  }

  it("upstream reset after the usage chunk but before the end: incomplete, no numbers", async () => {
    const body = openaiSse("gpt-4o-mini", { prompt: 7, completion: 9 });
    const { s, fs } = await cutOff("responseBody", body.slice(0, body.indexOf("data: [DONE]")));
    noNumbers(fs);
    expect(fs[STATE + "usage_skipped"]).toBe("incomplete");
    expect(reasons(s)).toEqual({ incomplete: 1 });
    expect(tokenSeries(s)).toEqual([]);
  });

  it("reset mid-JSON, right after response headers, and a client abort mid-request", async () => {
    for (const [at, body, ct] of [
      ["responseBody", USAGE.slice(0, 40), "application/json"],
      ["responseHeaders", "", "application/json"],
      ["request", "", "application/json"],
    ] as const) {
      const { s, fs } = await cutOff(at, body, ct);
      noNumbers(fs);
      expect(fs[STATE + "usage_skipped"]).toBe("incomplete");
      expect(reasons(s)).toEqual({ incomplete: 1 });
    }
  });

  it("DashScope stream reset mid-event: the running total is not published", async () => {
    const body = dashscopeSse({ prompt: 11, completion: 85 }, 4);
    const { fs } = await cutOff("responseBody", body.slice(0, body.length - 30));
    noNumbers(fs);
  });
});
