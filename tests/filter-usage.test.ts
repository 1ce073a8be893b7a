// Usage extraction per API shape, JSON and SSE, through the host, in observe-only mode (empty
// plugin configuration: nothing is rewritten, nothing buffered).
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, Sidecar } from "./helpers/sidecar";
import {
  openaiRequest,
  openaiJson,
  openaiSse,
  dashscopeRequest,
  dashscopeJson,
  dashscopeSse,
  splitAt,
  JSON_HEADERS,
  SSE_HEADERS,
} from "./helpers/bodies";

const STATE = "wasm.asm.llmproxy.";

function openaiCall(s: Sidecar, responseBody: string | Uint8Array[], sse: boolean, requestExtra: Record<string, unknown> = {}) {
  return s.call({
    request: {
      method: "POST",
      path: "/v1/chat/completions",
      authority: "api.openai.com",
      headers: JSON_HEADERS,
      body: openaiRequest("gpt-4o-mini", requestExtra),
    },
    response: { status: 200, headers: sse ? SSE_HEADERS : JSON_HEADERS, body: responseBody },
  });
}

describe("OpenAI chat completions", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  it("JSON: model and usage to filter state", () => {
    const r = openaiCall(s, openaiJson("gpt-4o-mini-2024-07-18", { prompt: 19, completion: 10 }), false);
    expect(r.filterState[STATE + "request_model"]).toBe("gpt-4o-mini");
    expect(r.filterState[STATE + "response_model"]).toBe("gpt-4o-mini-2024-07-18");
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("19");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBe("10");
    expect(r.filterState[STATE + "request_total_tokens"]).toBe("29");
    expect(r.filterState[STATE + "request_stream"]).toBe("false");
  });

  it("JSON: counters labelled with the request's model and the destination host", async () => {
    const t = await sidecar({ workload: "reviews-v1", namespace: "bookinfo" });
    openaiCall(t, openaiJson("gpt-4o-mini-2024-07-18", { prompt: 19, completion: 10 }), false);
    openaiCall(t, openaiJson("gpt-4o-mini-2024-07-18", { prompt: 1, completion: 2 }), false);
    expect(t.prometheus(/^asm_llm_proxy_(prompt|completion)_tokens/)).toEqual([
      'asm_llm_proxy_completion_tokens{llmproxy_source_workload="reviews-v1",llmproxy_source_workload_namespace="bookinfo",llmproxy_destination_service="api.openai.com",llmproxy_model="gpt-4o-mini"} 12',
      'asm_llm_proxy_prompt_tokens{llmproxy_source_workload="reviews-v1",llmproxy_source_workload_namespace="bookinfo",llmproxy_destination_service="api.openai.com",llmproxy_model="gpt-4o-mini"} 20',
    ]);
  });

  it("SSE: usage from the final chunk before [DONE]; 'usage': null chunks fill nothing", () => {
    const r = openaiCall(s, openaiSse("gpt-4o-mini", { prompt: 8, completion: 120 }), true, {
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(r.filterState[STATE + "request_stream"]).toBe("true");
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("8");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBe("120");
    expect(r.filterState[STATE + "response_model"]).toBe("gpt-4o-mini");
  });

  it("SSE: a later event's model replaces an earlier one that differs only once decoded", () => {
    // event 1: a, backslash, n, b (escaped backslash); event 2: a, newline, b (escaped newline)
    const body =
      'data: {"model":"a\\\\nb","choices":[]}\n\ndata: {"model":"a\\nb","choices":[],"usage":{"prompt_tokens":1,"completion_tokens":1}}\n\ndata: [DONE]\n\n';
    const r = openaiCall(s, body, true, { stream: true });
    expect(r.filterState[STATE + "response_model"]).toBe("a_b"); // the newline, made safe for a log line
  });

  it("SSE with CRLF line ends", () => {
    const r = openaiCall(s, openaiSse("gpt-4o-mini", { prompt: 5, completion: 6 }, { crlf: true }), true, { stream: true });
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("5");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBe("6");
  });

  it("SSE without a usage chunk: no token numbers, counted as no_usage", async () => {
    const t = await sidecar();
    const r = openaiCall(t, openaiSse("gpt-4o-mini", { prompt: 5, completion: 6 }, { includeUsage: false }), true, { stream: true });
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBeUndefined();
    expect(r.filterState[STATE + "request_completion_tokens"]).toBeUndefined();
    expect(r.filterState[STATE + "request_model"]).toBe("gpt-4o-mini");
    expect(t.prometheus(/^asm_llm_proxy_(prompt|completion)_tokens/)).toEqual([]);
    expect(t.prometheus(/^asm_llm_proxy_unparsed_responses/)).toEqual(['asm_llm_proxy_unparsed_responses{llmproxy_reason="no_usage"} 1']);
  });

  it("SSE split at every byte position gives the same usage", () => {
    const stream = openaiSse("gpt-4o-mini", { prompt: 8, completion: 120 }, { words: 2 });
    const bytes = Buffer.from(stream);
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = openaiCall(s, splitAt(bytes, [cut]), true, { stream: true });
      expect([cut, r.filterState[STATE + "request_prompt_tokens"], r.filterState[STATE + "request_completion_tokens"]]).toEqual([
        cut,
        "8",
        "120",
      ]);
    }
  });

  it("SSE split one byte per chunk", () => {
    const stream = Buffer.from(openaiSse("gpt-4o-mini", { prompt: 8, completion: 120 }, { words: 3, crlf: true }));
    const cuts = Array.from({ length: stream.length - 1 }, (_, i) => i + 1);
    const r = openaiCall(s, splitAt(stream, cuts), true, { stream: true });
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("8");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBe("120");
  });

  it("brackets mismatched deep inside a part the scanner skips still make the body unsound", async () => {
    const t = await sidecar();
    for (const body of [
      '{"choices":[{"message":{"content":"x"]}],"usage":{"prompt_tokens":1,"completion_tokens":2}}',
      '{"choices":[[[{"a":[1,2}]]],"usage":{"prompt_tokens":1,"completion_tokens":2}}',
      '{"choices":[{"a":"}]"}],"usage":{"prompt_tokens":1,"completion_tokens":2}',
    ]) {
      const r = openaiCall(t, body, false);
      expect([body, r.filterState[STATE + "request_prompt_tokens"]]).toEqual([body, undefined]);
    }
    // while brackets inside strings of a skipped part are only text
    const ok = openaiCall(
      t,
      '{"choices":[{"message":{"content":"]]}}{{[\\"]"}}],"usage":{"prompt_tokens":1,"completion_tokens":2}}',
      false,
    );
    expect(ok.filterState[STATE + "request_prompt_tokens"]).toBe("1");
  });

  it("a missing colon or comma, a trailing comma, or data lines that only join into numbers: nothing published", async () => {
    const t = await sidecar();
    for (const body of [
      '{"usage":{"prompt_tokens" 5,"completion_tokens":7}}',
      '{"usage":{"prompt_tokens":5 "completion_tokens":7}}',
      '{"usage":{"prompt_tokens":5,"completion_tokens":7,}}',
      '{"usage":{"prompt_tokens":5,,"completion_tokens":7}}',
      '{"usage":{"prompt_tokens":5,"completion_tokens":7}}}',
      '{"usage":{:"prompt_tokens",5}}',
    ]) {
      const r = openaiCall(t, body, false);
      expect([body, r.filterState[STATE + "request_prompt_tokens"], r.filterState[STATE + "usage_skipped"]]).toEqual([
        body,
        undefined,
        "malformed",
      ]);
    }
    const joined = openaiCall(t, 'data: {"usage":{"prompt_tokens":12\ndata: 34,"completion_tokens":1}}\n\n', true, { stream: true });
    expect(joined.filterState[STATE + "request_prompt_tokens"]).toBeUndefined();
  });

  it("embeddings: prompt and total tokens", () => {
    const r = s.call({
      request: {
        method: "POST",
        path: "/v1/embeddings",
        authority: "api.openai.com",
        headers: JSON_HEADERS,
        body: '{"model":"text-embedding-3-small","input":"hello world"}',
      },
      response: {
        status: 200,
        headers: JSON_HEADERS,
        body: '{"object":"list","data":[{"object":"embedding","index":0,"embedding":[0.1,-0.2]}],"model":"text-embedding-3-small","usage":{"prompt_tokens":2,"total_tokens":2}}',
      },
    });
    expect(r.filterState[STATE + "request_model"]).toBe("text-embedding-3-small");
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("2");
    expect(r.filterState[STATE + "request_total_tokens"]).toBe("2");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBeUndefined();
  });
});

describe("DashScope native", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });
  const path = "/api/v1/services/aigc/text-generation/generation";

  it("JSON: input_tokens/output_tokens; the model comes from the request only", () => {
    const r = s.call({
      request: { method: "POST", path, authority: "dashscope.aliyuncs.com", headers: JSON_HEADERS, body: dashscopeRequest("qwen-plus") },
      response: { status: 200, headers: JSON_HEADERS, body: dashscopeJson({ prompt: 11, completion: 85 }) },
    });
    expect(r.filterState[STATE + "request_model"]).toBe("qwen-plus");
    expect(r.filterState[STATE + "response_model"]).toBeUndefined();
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("11");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBe("85");
    expect(r.filterState[STATE + "request_total_tokens"]).toBe("96");
  });

  it('JSON: an empty "code" (a success body) is no provider error', () => {
    const body = JSON.stringify({
      output: { text: "hi" },
      usage: { input_tokens: 3, output_tokens: 4 },
      code: "",
      message: "",
      request_id: "r",
    });
    const r = s.call({
      request: { method: "POST", path, authority: "dashscope.aliyuncs.com", headers: JSON_HEADERS, body: dashscopeRequest("qwen-plus") },
      response: { status: 200, headers: JSON_HEADERS, body },
    });
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("3");
    expect(r.filterState[STATE + "usage_skipped"]).toBeUndefined();
  });

  it("SSE: the usage is a running total; the last event's is taken, never a sum", async () => {
    const t = await sidecar();
    const call = (body: string | Uint8Array[]) =>
      t.call({
        request: {
          method: "POST",
          path,
          authority: "dashscope.aliyuncs.com",
          headers: [...JSON_HEADERS, ["x-dashscope-sse", "enable"]],
          body: dashscopeRequest("qwen-turbo"),
        },
        response: { status: 200, headers: [["content-type", "text/event-stream;charset=UTF-8"]], body },
      });
    const r = call(dashscopeSse({ prompt: 11, completion: 85 }, 8));
    expect(r.filterState[STATE + "request_stream"]).toBe("true");
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("11");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBe("85");
    expect(t.prometheus(/^asm_llm_proxy_prompt_tokens/)).toEqual([
      'asm_llm_proxy_prompt_tokens{llmproxy_source_workload="sleep",llmproxy_source_workload_namespace="default",llmproxy_destination_service="dashscope.aliyuncs.com",llmproxy_model="qwen-turbo"} 11',
    ]);
  });

  it("SSE split at every byte position gives the same usage", () => {
    const bytes = Buffer.from(dashscopeSse({ prompt: 11, completion: 85 }, 3));
    for (let cut = 1; cut < bytes.length; cut++) {
      const r = s.call({
        request: { method: "POST", path, authority: "dashscope.aliyuncs.com", headers: JSON_HEADERS, body: dashscopeRequest("qwen-turbo") },
        response: { status: 200, headers: SSE_HEADERS, body: splitAt(bytes, [cut]) },
      });
      expect([cut, r.filterState[STATE + "request_prompt_tokens"], r.filterState[STATE + "request_completion_tokens"]]).toEqual([
        cut,
        "11",
        "85",
      ]);
    }
  });
});

describe("Anthropic messages", () => {
  it("SSE: input tokens from message_start, output tokens from the last message_delta", async () => {
    const s = await sidecar();
    const events = [
      [
        "message_start",
        {
          type: "message_start",
          message: {
            id: "msg_1",
            type: "message",
            role: "assistant",
            model: "claude-sonnet-4-5",
            content: [],
            usage: { input_tokens: 25, output_tokens: 1 },
          },
        },
      ],
      ["content_block_delta", { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hi" } }],
      ["message_delta", { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 15 } }],
      ["message_stop", { type: "message_stop" }],
    ] as const;
    const body = events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join("");
    const r = s.call({
      request: {
        method: "POST",
        path: "/v1/messages",
        authority: "api.anthropic.com",
        headers: JSON_HEADERS,
        body: '{"model":"claude-sonnet-4-5","max_tokens":64,"stream":true,"messages":[{"role":"user","content":"Hi"}]}',
      },
      response: { status: 200, headers: SSE_HEADERS, body },
    });
    expect(r.filterState[STATE + "response_model"]).toBe("claude-sonnet-4-5");
    expect(r.filterState[STATE + "request_prompt_tokens"]).toBe("25");
    expect(r.filterState[STATE + "request_completion_tokens"]).toBe("15");
    expect(r.filterState[STATE + "request_total_tokens"]).toBe("40");
  });
});
