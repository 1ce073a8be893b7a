// fast-check generators of realistic exchanges for every API shape the filter reads.
import fc from "fast-check";
import type { Shape } from "./reference";
import { PATHS } from "./harness";
import {
  responsesJson,
  responsesSse,
  geminiJson,
  geminiSse,
  geminiArray,
  bedrockConverseJson,
  anthropicJson,
  anthropicSse,
  dashscopeAppJson,
  dashscopeAppSse,
  openaiVariantSse,
} from "./bodies";
import { converseStreamBody, EVENTSTREAM_HEADERS, invokeStreamBody } from "./eventstream";

export interface Case {
  api: keyof typeof PATHS;
  shape: Shape;
  path: string;
  request: Uint8Array;
  requestHeaders: [string, string][];
  status: number;
  responseHeaders: [string, string][];
  response: Uint8Array;
}

const enc = new TextEncoder();

export const modelName = fc.oneof(
  fc.constantFrom("gpt-4o-mini", "qwen-turbo", "qwen-1.8b-chat", "claude-sonnet-4-5", "text-embedding-3-small", "qwen-plus-2025-01-25"),
  fc.string({ minLength: 1, maxLength: 40 }),
  fc.string({ unit: "grapheme", minLength: 1, maxLength: 12 }),
);
const count = fc.oneof(fc.nat({ max: 200 }), fc.nat({ max: 2_000_000_000 }), fc.constant(0));
const tokens = fc.record({ prompt: count, completion: count });
const nl = fc.constantFrom("\n", "\r\n", "\r");

const words = fc.array(
  fc.oneof(
    fc.string({ maxLength: 24 }),
    fc.constantFrom('say "hi" \\ {"usage":{"prompt_tokens":1}}', "\u00e9\u4e2d\ud83d\ude00", "line\r\nbreak\ttab"),
  ),
  { maxLength: 6 },
);

function sse(events: { event?: string; data: string }[], eol: string, comments: boolean): string {
  return events
    .map(
      (e, i) =>
        (comments && i % 3 === 0 ? `: keep-alive${eol}` : "") + (e.event ? `event: ${e.event}${eol}` : "") + `data: ${e.data}${eol}${eol}`,
    )
    .join("");
}

const openaiCase = fc
  .record({
    model: modelName,
    t: tokens,
    stream: fc.boolean(),
    includeUsage: fc.boolean(),
    words,
    eol: nl,
    comments: fc.boolean(),
    hasModel: fc.boolean(),
  })
  .map(({ model, t, stream, includeUsage, words, eol, comments, hasModel }): Case => {
    const req = {
      ...(hasModel ? { model } : {}),
      messages: [{ role: "user", content: words.join(" ") }],
      ...(stream ? { stream: true, ...(includeUsage ? { stream_options: { include_usage: true } } : {}) } : {}),
    };
    const base = { id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model };
    const usage = {
      prompt_tokens: t.prompt,
      completion_tokens: t.completion,
      total_tokens: t.prompt + t.completion,
      prompt_tokens_details: { cached_tokens: Math.min(t.prompt, 3) },
    };
    let body: string;
    if (stream) {
      const events = words.map((w) => ({
        data: JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: w }, finish_reason: null }], usage: null }),
      }));
      if (includeUsage) events.push({ data: JSON.stringify({ ...base, choices: [], usage }) });
      events.push({ data: "[DONE]" });
      body = sse(events, eol, comments);
    } else {
      body = JSON.stringify({
        ...base,
        object: "chat.completion",
        choices: [{ index: 0, message: { role: "assistant", content: words.join(" ") }, finish_reason: "stop" }],
        usage,
      });
    }
    return {
      api: "openai",
      shape: "openai",
      path: PATHS.openai.path,
      request: enc.encode(JSON.stringify(req)),
      requestHeaders: [["content-type", "application/json"]],
      status: 200,
      responseHeaders: [["content-type", stream ? "text/event-stream" : "application/json"]],
      response: enc.encode(body),
    };
  });

const embeddingsCase = fc
  .record({ model: modelName, prompt: count, dims: fc.array(fc.double({ noNaN: true, noDefaultInfinity: true }), { maxLength: 8 }) })
  .map(
    ({ model, prompt, dims }): Case => ({
      api: "embeddings",
      shape: "openai",
      path: PATHS.embeddings.path,
      request: enc.encode(JSON.stringify({ model, input: ["hello", "world"] })),
      requestHeaders: [["content-type", "application/json"]],
      status: 200,
      responseHeaders: [["content-type", "application/json"]],
      response: enc.encode(
        JSON.stringify({
          object: "list",
          data: [{ object: "embedding", index: 0, embedding: dims }],
          model,
          usage: { prompt_tokens: prompt, total_tokens: prompt },
        }),
      ),
    }),
  );

const dashscopeCase = fc
  .record({ model: modelName, t: tokens, stream: fc.boolean(), events: fc.integer({ min: 1, max: 6 }), eol: nl })
  .map(({ model, t, stream, events, eol }): Case => {
    const req = { model, input: { messages: [{ role: "user", content: "hi" }] }, parameters: { result_format: "message" } };
    let body: string;
    if (stream) {
      body = "";
      for (let i = 1; i <= events; i++) {
        const c = Math.round((t.completion * i) / events);
        const data = {
          output: { choices: [{ message: { content: `part ${i}`, role: "assistant" }, finish_reason: i === events ? "stop" : "null" }] },
          usage: { total_tokens: t.prompt + c, input_tokens: t.prompt, output_tokens: c },
          request_id: "r",
        };
        body += `id:${i}${eol}event:result${eol}:HTTP_STATUS/200${eol}data:${JSON.stringify(data)}${eol}${eol}`;
      }
    } else {
      body = JSON.stringify({
        output: { choices: [{ finish_reason: "stop", message: { role: "assistant", content: "I am Qwen." } }] },
        usage: { total_tokens: t.prompt + t.completion, output_tokens: t.completion, input_tokens: t.prompt },
        request_id: "r",
      });
    }
    return {
      api: "dashscope",
      shape: "dashscope",
      path: PATHS.dashscope.path,
      request: enc.encode(JSON.stringify(req)),
      requestHeaders: [["content-type", "application/json"], ...(stream ? [["x-dashscope-sse", "enable"] as [string, string]] : [])],
      status: 200,
      responseHeaders: [["content-type", stream ? "text/event-stream;charset=UTF-8" : "application/json"]],
      response: enc.encode(body),
    };
  });

const anthropicCase = fc
  .record({ model: modelName, t: tokens, stream: fc.boolean(), words, eol: nl, comments: fc.boolean() })
  .map(({ model, t, stream, words, eol, comments }): Case => {
    const req = { model, max_tokens: 64, ...(stream ? { stream: true } : {}), messages: [{ role: "user", content: "Hi" }] };
    let body: string;
    if (stream) {
      const events: { event: string; data: string }[] = [
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
              usage: { input_tokens: t.prompt, output_tokens: 1 },
            },
          }),
        },
        ...words.map((w) => ({
          event: "content_block_delta",
          data: JSON.stringify({ type: "content_block_delta", index: 0, delta: { type: "text_delta", text: w } }),
        })),
        {
          event: "message_delta",
          data: JSON.stringify({ type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: t.completion } }),
        },
        { event: "message_stop", data: JSON.stringify({ type: "message_stop" }) },
      ];
      body = sse(events, eol, comments);
    } else {
      body = JSON.stringify({
        id: "msg_1",
        type: "message",
        role: "assistant",
        model,
        content: [{ type: "text", text: words.join(" ") }],
        stop_reason: "end_turn",
        usage: { input_tokens: t.prompt, output_tokens: t.completion },
      });
    }
    return {
      api: "anthropic",
      shape: "anthropic",
      path: PATHS.anthropic.path,
      request: enc.encode(JSON.stringify(req)),
      requestHeaders: [["content-type", "application/json"]],
      status: 200,
      responseHeaders: [["content-type", stream ? "text/event-stream" : "application/json"]],
      response: enc.encode(body),
    };
  });

const fullTokens = fc.record({
  prompt: count,
  completion: count,
  cached: fc.option(count, { nil: undefined }),
  reasoning: fc.option(count, { nil: undefined }),
  cacheWrite: fc.option(count, { nil: undefined }),
});
const JSON_CT: [string, string][] = [["content-type", "application/json"]];
const SSE_CT: [string, string][] = [["content-type", "text/event-stream"]];
const jsonReq = (o: unknown) => enc.encode(JSON.stringify(o));

const responsesCase = fc
  .record({ model: modelName, t: fullTokens, stream: fc.boolean(), words: fc.integer({ min: 0, max: 4 }), error: fc.boolean() })
  .map(
    ({ model, t, stream, words, error }): Case => ({
      api: "responses",
      shape: "responses",
      path: PATHS.responses.path,
      request: jsonReq({ model, input: "hi", ...(stream ? { stream: true } : {}) }),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: stream ? SSE_CT : JSON_CT,
      response: enc.encode(stream ? responsesSse(model, t, { words, error }) : responsesJson(model, t)),
    }),
  );

const geminiCase = fc
  .record({
    model: fc.constantFrom("gemini-2.5-flash", "gemini-2.0-flash-001", "gemini-2.5-pro"),
    version: modelName,
    t: fullTokens,
    form: fc.constantFrom("json", "sse", "array"),
    chunks: fc.integer({ min: 1, max: 4 }),
    vertex: fc.boolean(),
  })
  .map(({ model, version, t, form, chunks, vertex }): Case => {
    const method = form === "json" ? "generateContent" : "streamGenerateContent";
    const base = vertex ? `/v1/projects/p/locations/us-central1/publishers/google/models/${model}` : `/v1beta/models/${model}`;
    return {
      api: "gemini",
      shape: "gemini",
      path: `${base}:${method}${form === "sse" ? "?alt=sse" : ""}`,
      request: jsonReq({ contents: [{ role: "user", parts: [{ text: "hi" }] }] }),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: form === "sse" ? SSE_CT : JSON_CT,
      response: enc.encode(
        form === "json" ? geminiJson(version, t) : form === "sse" ? geminiSse(version, t, chunks) : geminiArray(version, t, chunks),
      ),
    };
  });

const bedrockCase = fc
  .record({
    model: fc.constantFrom("anthropic.claude-3-5-sonnet-20240620-v1%3A0", "amazon.nova-pro-v1:0", "meta.llama3-70b-instruct-v1%3A0"),
    t: fullTokens,
    invoke: fc.boolean(),
    version: modelName,
  })
  .map(
    ({ model, t, invoke, version }): Case => ({
      api: invoke ? "bedrock-invoke" : "bedrock-converse",
      shape: invoke ? "bedrock-invoke" : "bedrock-converse",
      path: `/model/${model}/${invoke ? "invoke" : "converse"}`,
      request: jsonReq(invoke ? { anthropic_version: "bedrock-2023-05-31", max_tokens: 64, messages: [] } : { messages: [] }),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: JSON_CT,
      response: enc.encode(invoke ? anthropicJson(version, t) : bedrockConverseJson(t)),
    }),
  );

/** Bedrock's binary streams: converse-stream (usage in the metadata event) and
 *  invoke-with-response-stream (Anthropic events in base64 chunks, Bedrock's metrics last). */
const bedrockStreamCase = fc
  .record({
    t: fullTokens,
    metrics: fc.option(tokens, { nil: undefined }),
    invoke: fc.boolean(),
    version: modelName,
    deltas: fc.array(fc.string({ maxLength: 12 }), { minLength: 0, maxLength: 4 }),
  })
  .map(
    ({ t, metrics, invoke, version, deltas }): Case => ({
      api: invoke ? "bedrock-invoke" : "bedrock-converse",
      shape: invoke ? "bedrock-invoke" : "bedrock-converse",
      path: invoke
        ? "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/invoke-with-response-stream"
        : "/model/amazon.nova-pro-v1%3A0/converse-stream",
      request: jsonReq(invoke ? { anthropic_version: "bedrock-2023-05-31", max_tokens: 64, messages: [] } : { messages: [] }),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: EVENTSTREAM_HEADERS,
      response: new Uint8Array(invoke ? invokeStreamBody(version, t, metrics ?? t) : converseStreamBody(t, deltas)),
    }),
  );

const appModels = fc.array(fc.record({ model_id: modelName, input_tokens: count, output_tokens: count }), { minLength: 1, maxLength: 3 });
const dashscopeAppsCase = fc.record({ models: appModels, stream: fc.boolean(), events: fc.integer({ min: 1, max: 4 }) }).map(
  ({ models, stream, events }): Case => ({
    api: "dashscope-apps",
    shape: "dashscope-apps",
    path: PATHS["dashscope-apps"].path,
    request: jsonReq({ input: { prompt: "hi" }, parameters: {} }),
    requestHeaders: [...JSON_CT, ...(stream ? [["x-dashscope-sse", "enable"] as [string, string]] : [])],
    status: 200,
    responseHeaders: stream ? SSE_CT : JSON_CT,
    response: enc.encode(stream ? dashscopeAppSse(models, events) : dashscopeAppJson(models)),
  }),
);

const openaiVariantCase = fc
  .record({
    model: modelName,
    t: fullTokens,
    variant: fc.constantFrom(
      "usage-on-finish",
      "usage-after-finish-with-choices",
      "usage-in-choices",
      "x-groq",
      "null-details",
      "azure-empty-model",
      "openrouter-comments",
      "deepseek-cache" as const,
    ),
  })
  .map(
    ({ model, t, variant }): Case => ({
      api: "openai",
      shape: "openai",
      path: "/openai/deployments/d/chat/completions?api-version=2024-10-21",
      request: jsonReq({ model, messages: [], stream: true }),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: SSE_CT,
      response: enc.encode(
        openaiVariantSse(model, { ...t, cached: variant === "deepseek-cache" ? Math.min(t.cached ?? 0, t.prompt) : t.cached }, variant),
      ),
    }),
  );

// Cohere v2: chat (JSON, or SSE whose message-end carries the usage) and embed.
const cohereCase = fc
  .record({ model: modelName, t: fullTokens, form: fc.constantFrom("json", "sse", "embed"), words, billed: fc.boolean() })
  .map(({ model, t, form, words, billed }): Case => {
    const usage = {
      ...(billed ? { billed_units: { input_tokens: Math.min(t.prompt, 5), output_tokens: t.completion } } : {}),
      tokens: { input_tokens: t.prompt, output_tokens: t.completion },
      ...(t.cached !== undefined ? { cached_tokens: t.cached } : {}),
    };
    let body: string;
    if (form === "embed") {
      body = JSON.stringify({
        id: "e1",
        texts: ["hello"],
        embeddings: { float: [[0.1, -0.2]] },
        meta: { api_version: { version: "2" }, billed_units: { input_tokens: t.prompt } },
      });
    } else if (form === "sse") {
      const ev = (type: string, data: object) => ({ event: type, data: JSON.stringify({ type, ...data }) });
      body = sse(
        [
          ev("message-start", { id: "m1", delta: { message: { role: "assistant" } } }),
          ...words.map((w) => ev("content-delta", { index: 0, delta: { message: { content: { text: w } } } })),
          ev("message-end", { delta: { finish_reason: "COMPLETE", usage } }),
        ],
        "\n",
        false,
      );
    } else {
      body = JSON.stringify({
        id: "c1",
        message: { role: "assistant", content: [{ type: "text", text: words.join(" ") }] },
        finish_reason: "COMPLETE",
        usage,
      });
    }
    return {
      api: "cohere",
      shape: "cohere",
      path: form === "embed" ? "/v2/embed" : "/v2/chat",
      request: jsonReq(
        form === "embed"
          ? { model, texts: ["hello"], input_type: "search_document" }
          : { model, messages: [], ...(form === "sse" ? { stream: true } : {}) },
      ),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: form === "sse" ? SSE_CT : JSON_CT,
      response: enc.encode(body),
    };
  });

// Ollama native: JSON (stream: false), or NDJSON whose last line (done: true) has the counts.
const ollamaCase = fc
  .record({
    model: modelName,
    t: tokens,
    stream: fc.boolean(),
    chat: fc.boolean(),
    words,
    eol: fc.constantFrom("\n", "\r\n"),
    trailingNewline: fc.boolean(),
  })
  .map(({ model, t, stream, chat, words, eol, trailingNewline }): Case => {
    const part = (w: string, done: boolean) => ({
      model,
      created_at: "2023-08-04T19:22:45.499127Z",
      ...(chat ? { message: { role: "assistant", content: w } } : { response: w }),
      done,
      ...(done ? { done_reason: "stop", total_duration: 4883583458, prompt_eval_count: t.prompt, eval_count: t.completion } : {}),
    });
    const body = stream
      ? [...words.map((w) => part(w, false)), part("", true)].map((o) => JSON.stringify(o)).join(eol) + (trailingNewline ? eol : "")
      : JSON.stringify(part(words.join(" "), true));
    return {
      api: "ollama",
      shape: "ollama",
      path: chat ? "/api/chat" : "/api/generate",
      request: jsonReq(
        chat
          ? { model, messages: [], ...(stream ? {} : { stream: false }) }
          : { model, prompt: "hi", ...(stream ? {} : { stream: false }) },
      ),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: [["content-type", stream ? "application/x-ndjson" : "application/json; charset=utf-8"]],
      response: enc.encode(body),
    };
  });

// Hugging Face TGI: /generate (JSON with details) and /generate_stream (SSE, the last event's details).
const tgiCase = fc.record({ t: tokens, stream: fc.boolean(), words, details: fc.boolean() }).map(({ t, stream, words, details }): Case => {
  const det = details ? { finish_reason: "length", generated_tokens: t.completion, seed: null } : null;
  const body = stream
    ? words
        .map((w, i) => {
          const last = i === words.length - 1;
          return `data:${JSON.stringify({ index: i + 1, token: { id: i, text: w, logprob: -0.5, special: false }, generated_text: last ? words.join("") : null, details: last ? det : null })}\n\n`;
        })
        .join("")
    : JSON.stringify({ generated_text: words.join(""), ...(det ? { details: { ...det, prefill: [], tokens: [] } } : {}) });
  return {
    api: "tgi",
    shape: "tgi",
    path: stream ? "/generate_stream" : "/generate",
    request: jsonReq({ inputs: "hi", parameters: { max_new_tokens: 20, details } }),
    requestHeaders: JSON_CT,
    status: 200,
    responseHeaders: stream ? SSE_CT : JSON_CT,
    response: enc.encode(body),
  };
});

// Anthropic on Vertex AI: the model in the path, the Messages API's body.
const vertexAnthropicCase = fc
  .record({
    model: fc.constantFrom("claude-sonnet-4@20250514", "claude-3-5-haiku@20241022"),
    version: modelName,
    t: fullTokens,
    stream: fc.boolean(),
  })
  .map(
    ({ model, version, t, stream }): Case => ({
      api: "vertex-anthropic",
      shape: "vertex-anthropic",
      path: `/v1/projects/p/locations/us-east5/publishers/anthropic/models/${model}:${stream ? "streamRawPredict" : "rawPredict"}`,
      request: jsonReq({ anthropic_version: "vertex-2023-10-16", max_tokens: 64, messages: [], ...(stream ? { stream: true } : {}) }),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: stream ? SSE_CT : JSON_CT,
      response: enc.encode(stream ? anthropicSse(version, t) : anthropicJson(version, t)),
    }),
  );

// Gemini embeddings: AI Studio embedContent (no counts), Vertex AI :predict (a count per text).
const geminiEmbedCase = fc
  .record({ counts: fc.array(fc.nat({ max: 5000 }), { minLength: 1, maxLength: 4 }), vertex: fc.boolean(), batch: fc.boolean() })
  .map(
    ({ counts, vertex, batch }): Case => ({
      api: "gemini-embed",
      shape: "gemini-embed",
      path: vertex
        ? "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict"
        : `/v1beta/models/gemini-embedding-001:${batch ? "batchEmbedContents" : "embedContent"}`,
      request: jsonReq(vertex ? { instances: counts.map(() => ({ content: "hi" })) } : { content: { parts: [{ text: "hi" }] } }),
      requestHeaders: JSON_CT,
      status: 200,
      responseHeaders: JSON_CT,
      response: enc.encode(
        JSON.stringify(
          vertex
            ? {
                predictions: counts.map((n) => ({ embeddings: { statistics: { token_count: n, truncated: false }, values: [0.1, -0.2] } })),
                metadata: { billableCharacterCount: 10 },
              }
            : batch
              ? { embeddings: counts.map(() => ({ values: [0.1, -0.2] })) }
              : { embedding: { values: [0.1, -0.2] } },
        ),
      ),
    }),
  );

// A multipart upload as SDKs send it (the filter never reads it).
const FORM_BOUNDARY = "----asmllmproxy7MA4YWxkTrZu0gW";
function formBody(fields: Record<string, string>): Uint8Array {
  const parts = Object.entries(fields).map(([k, v]) => `--${FORM_BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`);
  return enc.encode(`${parts.join("")}--${FORM_BOUNDARY}--\r\n`);
}
const FORM_CT: [string, string][] = [["content-type", `multipart/form-data; boundary=${FORM_BOUNDARY}`]];

// OpenAI images: generations (JSON) or edits (a form upload); gpt-image-1's usage, or none (dall-e).
const openaiImagesCase = fc
  .record({ model: modelName, t: fullTokens, edit: fc.boolean(), stream: fc.boolean(), usage: fc.boolean() })
  .map(({ model, t, edit, stream, usage }): Case => {
    const u = {
      input_tokens: t.prompt,
      input_tokens_details: { text_tokens: t.prompt, image_tokens: 0, ...(t.cached !== undefined ? { cached_tokens: t.cached } : {}) },
      output_tokens: t.completion,
      total_tokens: t.prompt + t.completion,
    };
    const kind = edit ? "image_edit" : "image_generation";
    const body = stream
      ? sse(
          [
            {
              event: `${kind}.partial_image`,
              data: JSON.stringify({ type: `${kind}.partial_image`, b64_json: "QUJD", partial_image_index: 0 }),
            },
            {
              event: `${kind}.completed`,
              data: JSON.stringify({ type: `${kind}.completed`, b64_json: "QUJD", ...(usage ? { usage: u } : {}) }),
            },
          ],
          "\n",
          false,
        )
      : JSON.stringify({ created: 1, data: [{ b64_json: "QUJD" }], ...(usage ? { usage: u } : {}) });
    return {
      api: "openai-images",
      shape: "openai-images",
      path: edit ? "/v1/images/edits" : "/v1/images/generations",
      request: edit
        ? formBody({ model, prompt: "a cat", ...(stream ? { stream: "true" } : {}) })
        : jsonReq({ model, prompt: "a cat", ...(stream ? { stream: true } : {}) }),
      requestHeaders: edit ? FORM_CT : JSON_CT,
      status: 200,
      responseHeaders: stream ? SSE_CT : JSON_CT,
      response: enc.encode(body),
    };
  });

// OpenAI transcriptions: a form upload; usage in tokens (gpt-4o-transcribe) or seconds (whisper-1).
const openaiAudioCase = fc
  .record({ model: modelName, t: tokens, seconds: fc.nat({ max: 100_000 }), duration: fc.boolean(), stream: fc.boolean() })
  .map(({ model, t, seconds, duration, stream }): Case => {
    const usage = duration
      ? { type: "duration", seconds }
      : {
          type: "tokens",
          input_tokens: t.prompt,
          input_token_details: { text_tokens: 0, audio_tokens: t.prompt },
          output_tokens: t.completion,
          total_tokens: t.prompt + t.completion,
        };
    const body = stream
      ? sse(
          [
            { data: JSON.stringify({ type: "transcript.text.delta", delta: "The sun" }) },
            { data: JSON.stringify({ type: "transcript.text.done", text: "The sun rises.", usage }) },
          ],
          "\n",
          false,
        )
      : JSON.stringify({ text: "The sun rises.", usage });
    return {
      api: "openai-audio",
      shape: "openai-audio",
      path: "/v1/audio/transcriptions",
      request: formBody({ model, ...(stream ? { stream: "true" } : {}) }),
      requestHeaders: FORM_CT,
      status: 200,
      responseHeaders: stream ? SSE_CT : JSON_CT,
      response: enc.encode(body),
    };
  });

export const anyCase: fc.Arbitrary<Case> = fc.oneof(
  openaiCase,
  embeddingsCase,
  dashscopeCase,
  anthropicCase,
  responsesCase,
  geminiCase,
  bedrockCase,
  bedrockStreamCase,
  dashscopeAppsCase,
  openaiVariantCase,
  cohereCase,
  ollamaCase,
  tgiCase,
  vertexAnthropicCase,
  geminiEmbedCase,
  openaiImagesCase,
  openaiAudioCase,
);
export const byApi = {
  openai: openaiCase,
  embeddings: embeddingsCase,
  dashscope: dashscopeCase,
  anthropic: anthropicCase,
  responses: responsesCase,
  gemini: geminiCase,
  bedrock: bedrockCase,
  "bedrock-stream": bedrockStreamCase,
  "dashscope-apps": dashscopeAppsCase,
  "openai-variants": openaiVariantCase,
  cohere: cohereCase,
  ollama: ollamaCase,
  tgi: tgiCase,
  "vertex-anthropic": vertexAnthropicCase,
  "gemini-embed": geminiEmbedCase,
  "openai-images": openaiImagesCase,
  "openai-audio": openaiAudioCase,
};

/** Cut positions as fractions, mapped onto a body of any length. */
export const cuts = fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 12 });
export function positions(fractions: number[], length: number): number[] {
  return fractions.map((f) => Math.floor(f * (length + 1)));
}

/** `perShape` cases of every shape's generator, each with its cut points: a fixed share per
 *  shape, so adding a shape does not thin out the others' (the real-Envoy tests' samples). */
export function stratifiedCases(seed: number, perShape: number): [Case, number[]][] {
  return Object.values(byApi).flatMap((arb, i) =>
    fc.sample(fc.tuple(arb as fc.Arbitrary<Case>, cuts), { seed: seed + i, numRuns: perShape }),
  );
}
