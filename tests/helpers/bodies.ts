// Real-looking provider bodies, built the way the providers send them.

export interface Tokens {
  prompt: number;
  completion: number;
  total?: number;
}

export function openaiRequest(model: string | undefined, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...(model ? { model } : {}), messages: [{ role: "user", content: "Please introduce yourself" }], ...extra });
}

export function openaiJson(model: string, t: Tokens): string {
  return JSON.stringify({
    id: "chatcmpl-9f2c",
    object: "chat.completion",
    created: 1732550000,
    model,
    choices: [
      {
        index: 0,
        message: { role: "assistant", content: "I am a large language model created by Alibaba Cloud. I am called Qwen." },
        finish_reason: "stop",
      },
    ],
    usage: { prompt_tokens: t.prompt, completion_tokens: t.completion, total_tokens: t.total ?? t.prompt + t.completion },
    system_fingerprint: null,
  });
}

/** An OpenAI chat.completion.chunk stream: content deltas with "usage": null, then (when asked)
 *  the usage chunk with empty choices, then `data: [DONE]`. */
export function openaiSse(model: string, t: Tokens, opts: { includeUsage?: boolean; words?: number; crlf?: boolean } = {}): string {
  const nl = opts.crlf ? "\r\n" : "\n";
  const words = opts.words ?? 12;
  const base = { id: "chatcmpl-9f2c", object: "chat.completion.chunk", created: 1732550000, model };
  const events: string[] = [];
  events.push(
    JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], usage: null }),
  );
  for (let i = 0; i < words; i++) {
    events.push(
      JSON.stringify({
        ...base,
        choices: [{ index: 0, delta: { content: ` word${i} "quoted" \\ {"model":"fake"}` }, finish_reason: null }],
        usage: null,
      }),
    );
  }
  events.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: null }));
  if (opts.includeUsage !== false) {
    events.push(
      JSON.stringify({
        ...base,
        choices: [],
        usage: { prompt_tokens: t.prompt, completion_tokens: t.completion, total_tokens: t.total ?? t.prompt + t.completion },
      }),
    );
  }
  events.push("[DONE]");
  return events.map((e) => `data: ${e}${nl}${nl}`).join("");
}

export function dashscopeRequest(model: string): string {
  return JSON.stringify({
    model,
    input: { messages: [{ role: "user", content: "Please introduce yourself" }] },
    parameters: { result_format: "message" },
  });
}

export function dashscopeJson(t: Tokens): string {
  return JSON.stringify({
    output: { choices: [{ finish_reason: "stop", message: { role: "assistant", content: "I am Qwen." } }] },
    usage: { total_tokens: t.total ?? t.prompt + t.completion, output_tokens: t.completion, input_tokens: t.prompt },
    request_id: "d5a2c6b4-0b8e-9f1a-8c5e-3f2a1b0c9d8e",
  });
}

/** DashScope native SSE: id/event/:HTTP_STATUS lines, `data:` without a space, and the usage as
 *  a running total in every event. */
export function dashscopeSse(t: Tokens, events = 8): string {
  let out = "";
  for (let i = 1; i <= events; i++) {
    const completion = Math.round((t.completion * i) / events);
    const data = {
      output: { choices: [{ message: { content: `part ${i}`, role: "assistant" }, finish_reason: i === events ? "stop" : "null" }] },
      usage: { total_tokens: t.prompt + completion, input_tokens: t.prompt, output_tokens: completion },
      request_id: "d5a2c6b4",
    };
    out += `id:${i}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(data)}\n\n`;
  }
  return out;
}

/** Splits a string's bytes at the given positions. */
export function splitAt(s: string | Uint8Array, cuts: number[]): Uint8Array[] {
  const b = typeof s === "string" ? Buffer.from(s) : s;
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of [...cuts].sort((x, y) => x - y)) {
    out.push(b.subarray(at, c));
    at = c;
  }
  out.push(b.subarray(at));
  return out;
}

export const JSON_HEADERS: [string, string][] = [["content-type", "application/json"]];
export const SSE_HEADERS: [string, string][] = [["content-type", "text/event-stream"]];

// ---- the other API shapes (docs/api-shapes.md), written from the providers' documented formats

export interface FullTokens {
  prompt: number;
  completion: number;
  total?: number;
  cached?: number;
  reasoning?: number;
  cacheWrite?: number;
}

const sseOf = (events: { event?: string; data: string }[], nl = "\n") =>
  events.map((e) => (e.event ? `event: ${e.event}${nl}` : "") + `data: ${e.data}${nl}${nl}`).join("");

/** OpenAI Responses API, JSON (POST /v1/responses). */
export function responsesJson(model: string, t: FullTokens): string {
  return JSON.stringify({
    id: "resp_67ccd2bed1ec8190",
    object: "response",
    created_at: 1741476542,
    status: "completed",
    error: null,
    incomplete_details: null,
    instructions: null,
    max_output_tokens: null,
    model,
    output: [
      {
        type: "message",
        id: "msg_67ccd2bf",
        status: "completed",
        role: "assistant",
        content: [{ type: "output_text", text: "In a peaceful grove beneath a silver moon...", annotations: [] }],
      },
    ],
    parallel_tool_calls: true,
    previous_response_id: null,
    reasoning: { effort: null, summary: null },
    store: true,
    temperature: 1.0,
    text: { format: { type: "text" } },
    tool_choice: "auto",
    tools: [],
    top_p: 1.0,
    truncation: "disabled",
    usage: {
      input_tokens: t.prompt,
      input_tokens_details: { cached_tokens: t.cached ?? 0 },
      output_tokens: t.completion,
      output_tokens_details: { reasoning_tokens: t.reasoning ?? 0 },
      total_tokens: t.total ?? t.prompt + t.completion,
    },
    user: null,
    metadata: {},
  });
}

/** Responses API stream: `event:` + `data:` pairs; usage only in response.completed. */
export function responsesSse(model: string, t: FullTokens, opts: { words?: number; error?: boolean } = {}): string {
  const response = (status: string, usage: unknown) => ({
    id: "resp_1",
    object: "response",
    created_at: 1741476542,
    status,
    error: null,
    model,
    output: [],
    usage,
  });
  const events: { event: string; data: string }[] = [
    {
      event: "response.created",
      data: JSON.stringify({ type: "response.created", sequence_number: 0, response: response("in_progress", null) }),
    },
    {
      event: "response.in_progress",
      data: JSON.stringify({ type: "response.in_progress", sequence_number: 1, response: response("in_progress", null) }),
    },
    {
      event: "response.output_item.added",
      data: JSON.stringify({
        type: "response.output_item.added",
        sequence_number: 2,
        output_index: 0,
        item: { id: "msg_1", status: "in_progress", type: "message", role: "assistant", content: [] },
      }),
    },
  ];
  for (let i = 0; i < (opts.words ?? 4); i++) {
    events.push({
      event: "response.output_text.delta",
      data: JSON.stringify({
        type: "response.output_text.delta",
        sequence_number: 3 + i,
        item_id: "msg_1",
        output_index: 0,
        content_index: 0,
        delta: ` word${i} {"usage":{"input_tokens":1}}`,
      }),
    });
  }
  if (opts.error) {
    events.push({
      event: "error",
      data: JSON.stringify({
        type: "error",
        sequence_number: 99,
        code: "server_error",
        message: "The server had an error while processing your request.",
        param: null,
      }),
    });
  } else {
    events.push({
      event: "response.completed",
      data: JSON.stringify({
        type: "response.completed",
        sequence_number: 99,
        response: response("completed", {
          input_tokens: t.prompt,
          input_tokens_details: { cached_tokens: t.cached ?? 0 },
          output_tokens: t.completion,
          output_tokens_details: { reasoning_tokens: t.reasoning ?? 0 },
          total_tokens: t.total ?? t.prompt + t.completion,
        }),
      }),
    });
  }
  return sseOf(events);
}

function geminiChunk(modelVersion: string, text: string, usage: Record<string, unknown>, finish: boolean): Record<string, unknown> {
  return {
    candidates: [{ content: { parts: [{ text }], role: "model" }, ...(finish ? { finishReason: "STOP" } : {}), index: 0 }],
    usageMetadata: usage,
    modelVersion,
    responseId: "mKdCaYv0Jp2p1dkP",
  };
}

function geminiUsage(t: FullTokens, final: boolean, step = 1): Record<string, number> {
  // Gemini: totalTokenCount = prompt + candidates + thoughts; earlier chunks carry partial counts.
  const completion = final ? t.completion : step;
  const thoughts = t.reasoning ?? 0;
  return {
    promptTokenCount: t.prompt,
    candidatesTokenCount: completion,
    totalTokenCount: t.total ?? t.prompt + completion + thoughts,
    ...(t.cached !== undefined ? { cachedContentTokenCount: t.cached } : {}),
    ...(thoughts ? { thoughtsTokenCount: thoughts } : {}),
  };
}

/** Gemini generateContent JSON. */
export function geminiJson(modelVersion: string, t: FullTokens): string {
  return JSON.stringify(
    geminiChunk(
      modelVersion,
      "AI learns patterns from data.",
      { ...geminiUsage(t, true), promptTokensDetails: [{ modality: "TEXT", tokenCount: t.prompt }] },
      true,
    ),
  );
}

/** Gemini streamGenerateContent?alt=sse: CRLF line ends, no [DONE], usage per chunk (cumulative). */
export function geminiSse(modelVersion: string, t: FullTokens, chunks = 3): string {
  const events: { data: string }[] = [];
  for (let i = 1; i <= chunks; i++) {
    const last = i === chunks;
    const u = geminiUsage(t, last, i);
    if (!last) delete u.totalTokenCount;
    events.push({ data: JSON.stringify(geminiChunk(modelVersion, `part ${i} "quoted"`, u, last)) });
  }
  return sseOf(events, "\r\n");
}

/** Gemini streamGenerateContent without alt=sse: one JSON array, elements separated by ",\r\n". */
export function geminiArray(modelVersion: string, t: FullTokens, chunks = 3): string {
  const parts: string[] = [];
  for (let i = 1; i <= chunks; i++)
    parts.push(JSON.stringify(geminiChunk(modelVersion, `part ${i}`, geminiUsage(t, i === chunks, i), i === chunks), null, 2));
  return "[" + parts.join("\n,\r\n") + "]";
}

/** Bedrock Converse JSON. */
export function bedrockConverseJson(t: FullTokens): string {
  return JSON.stringify({
    output: { message: { role: "assistant", content: [{ text: "Hello! How can I help?" }] } },
    stopReason: "end_turn",
    usage: {
      inputTokens: t.prompt,
      outputTokens: t.completion,
      totalTokens: t.total ?? t.prompt + t.completion + (t.cached ?? 0) + (t.cacheWrite ?? 0),
      cacheReadInputTokens: t.cached ?? 0,
      cacheWriteInputTokens: t.cacheWrite ?? 0,
    },
    metrics: { latencyMs: 1275 },
  });
}

/** Anthropic Messages JSON (also Bedrock InvokeModel's body for Claude). */
export function anthropicJson(model: string, t: FullTokens): string {
  return JSON.stringify({
    id: "msg_bdrk_01",
    type: "message",
    role: "assistant",
    model,
    content: [{ type: "text", text: "Hi there." }],
    stop_reason: "end_turn",
    stop_sequence: null,
    usage: {
      input_tokens: t.prompt,
      cache_creation_input_tokens: t.cacheWrite ?? 0,
      cache_read_input_tokens: t.cached ?? 0,
      output_tokens: t.completion,
    },
  });
}

/** Anthropic stream: message_start with input usage, message_delta with the running output count. */
export function anthropicSse(model: string, t: FullTokens): string {
  return sseOf([
    {
      event: "message_start",
      data: JSON.stringify({
        type: "message_start",
        message: {
          id: "msg_1",
          type: "message",
          role: "assistant",
          model,
          content: [],
          stop_reason: null,
          usage: {
            input_tokens: t.prompt,
            cache_creation_input_tokens: t.cacheWrite ?? 0,
            cache_read_input_tokens: t.cached ?? 0,
            output_tokens: 1,
          },
        },
      }),
    },
    {
      event: "content_block_start",
      data: JSON.stringify({ type: "content_block_start", index: 0, content_block: { type: "text", text: "" } }),
    },
    { event: "ping", data: JSON.stringify({ type: "ping" }) },
    {
      event: "content_block_delta",
      data: JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: "Hello" } }),
    },
    { event: "content_block_stop", data: JSON.stringify({ type: "content_block_stop", index: 0 }) },
    {
      event: "message_delta",
      data: JSON.stringify({
        type: "message_delta",
        delta: { stop_reason: "end_turn", stop_sequence: null },
        usage: { output_tokens: t.completion },
      }),
    },
    { event: "message_stop", data: JSON.stringify({ type: "message_stop" }) },
  ]);
}

export interface AppModelUsage {
  model_id: string;
  input_tokens: number;
  output_tokens: number;
}

/** DashScope application completion JSON: usage per model the app called. */
export function dashscopeAppJson(models: AppModelUsage[]): string {
  return JSON.stringify({
    output: { finish_reason: "stop", session_id: "6105c965c31b40958a43dc93c28c7a59", text: "Hangzhou is sunny today." },
    usage: { models: models.map((m) => ({ output_tokens: m.output_tokens, model_id: m.model_id, input_tokens: m.input_tokens })) },
    request_id: "2ef6c6e4-9a49-9f5c-b7b0-bc2c1f0c2b5a",
  });
}

/** DashScope application stream (X-DashScope-SSE: enable): running totals per event. */
export function dashscopeAppSse(models: AppModelUsage[], events = 3): string {
  let out = "";
  for (let i = 1; i <= events; i++) {
    const scaled = models.map((m) => ({ ...m, output_tokens: Math.round((m.output_tokens * i) / events) }));
    const data = JSON.parse(dashscopeAppJson(scaled));
    data.output.finish_reason = i === events ? "stop" : "null";
    out += `id:${i}\nevent:result\n:HTTP_STATUS/200\ndata:${JSON.stringify(data)}\n\n`;
  }
  return out;
}

/** An OpenAI chat.completion.chunk stream in one of the variations seen from compatible backends. */
export function openaiVariantSse(
  model: string,
  t: FullTokens,
  variant:
    | "usage-on-finish"
    | "usage-after-finish-with-choices"
    | "usage-in-choices"
    | "x-groq"
    | "null-details"
    | "azure-empty-model"
    | "openrouter-comments"
    | "deepseek-cache",
): string {
  const base = { id: "chatcmpl-9f2c", object: "chat.completion.chunk", created: 1732550000, model };
  const usage: Record<string, unknown> = {
    prompt_tokens: t.prompt,
    completion_tokens: t.completion,
    total_tokens: t.total ?? t.prompt + t.completion,
  };
  if (t.cached !== undefined) usage.prompt_tokens_details = { cached_tokens: t.cached };
  if (t.reasoning !== undefined) usage.completion_tokens_details = { reasoning_tokens: t.reasoning };
  const delta = (content: string) => JSON.stringify({ ...base, choices: [{ index: 0, delta: { content }, finish_reason: null }] });
  const lines: string[] = [];
  if (variant === "azure-empty-model") {
    lines.push(
      JSON.stringify({
        choices: [],
        created: 0,
        id: "",
        model: "",
        object: "",
        prompt_filter_results: [{ prompt_index: 0, content_filter_results: { hate: { filtered: false, severity: "safe" } } }],
      }),
    );
  }
  lines.push(delta("Hello"), delta(" world"));
  switch (variant) {
    case "usage-on-finish":
      lines.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage }));
      break;
    case "usage-after-finish-with-choices":
      lines.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }));
      lines.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: "" }, finish_reason: null }], usage }));
      break;
    case "usage-in-choices":
      lines.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop", usage }] }));
      break;
    case "x-groq":
      lines.push(
        JSON.stringify({
          ...base,
          choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }],
          x_groq: {
            id: "req_01j",
            usage: {
              queue_time: 0.021,
              prompt_tokens: t.prompt,
              prompt_time: 0.003,
              completion_tokens: t.completion,
              completion_time: 0.114,
              total_tokens: t.total ?? t.prompt + t.completion,
              total_time: 0.117,
            },
          },
        }),
      );
      break;
    case "null-details":
      lines.push(
        JSON.stringify({ ...base, choices: [], usage: { ...usage, prompt_tokens_details: null, completion_tokens_details: null } }),
      );
      break;
    case "deepseek-cache":
      lines.push(
        JSON.stringify({
          ...base,
          choices: [{ index: 0, delta: { content: "" }, finish_reason: "stop" }],
          usage: { ...usage, prompt_cache_hit_tokens: t.cached ?? 0, prompt_cache_miss_tokens: t.prompt - (t.cached ?? 0) },
        }),
      );
      break;
    default:
      lines.push(JSON.stringify({ ...base, choices: [], usage }));
  }
  const comment = variant === "openrouter-comments" ? ": OPENROUTER PROCESSING\n\n" : "";
  return comment + lines.map((l) => `${comment}data: ${l}\n\n`).join("") + "data: [DONE]\n\n";
}
