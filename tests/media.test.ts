// OpenAI images and transcriptions through the host: JSON and streamed usage, form uploads
// observed without being read (both bodies pass unchanged), and audio billed by duration,
// whose seconds are filter state and never a token counter. Bodies follow openai-python's
// types (images_response.py Usage; audio/transcription.py UsageTokens, UsageDuration).
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { snap, STATE, cut } from "./helpers/harness";

const enc = new TextEncoder();
const BOUNDARY = "----formdata-undici-0123456789";
const form = (fields: Record<string, string>) =>
  Object.entries(fields)
    .map(([k, v]) => `--${BOUNDARY}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${v}\r\n`)
    .join("") + `--${BOUNDARY}--\r\n`;
const FORM_CT = `multipart/form-data; boundary=${BOUNDARY}`;

function call(s: Sidecar, path: string, request: { ct: string; body: string }, response: { ct: string; body: Uint8Array[] }) {
  const r = snap(s, {
    request: { method: "POST", path, authority: "api.openai.com", headers: [["content-type", request.ct]], body: request.body },
    response: { status: 200, headers: [["content-type", response.ct]], body: response.body },
  });
  expect(r.failed, r.trap).toBe(false);
  const fs = r.filterState;
  const tokenCounters = Object.keys(r.counters).filter((k) => /asm_llm_proxy_(prompt|completion|cached|reasoning)_tokens/.test(k));
  return {
    state: {
      model: fs[STATE + "request_model"],
      prompt: fs[STATE + "request_prompt_tokens"],
      completion: fs[STATE + "request_completion_tokens"],
      total: fs[STATE + "request_total_tokens"],
      cached: fs[STATE + "request_cached_tokens"],
      seconds: fs[STATE + "request_audio_seconds"],
      skip: fs[STATE + "usage_skipped"],
    },
    tokenCounters,
    upstreamBody: r.upstreamBody,
    downstreamBody: r.downstreamBody,
  };
}

const none = {
  model: undefined,
  prompt: undefined,
  completion: undefined,
  total: undefined,
  cached: undefined,
  seconds: undefined,
  skip: undefined,
};

describe("OpenAI images and transcriptions", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  const imageUsage = {
    input_tokens: 50,
    input_tokens_details: { text_tokens: 10, image_tokens: 40, cached_tokens: 8 },
    output_tokens: 4160,
    total_tokens: 4210,
  };

  it("image generation (JSON): gpt-image-1's usage, split at every byte", () => {
    const body = enc.encode(JSON.stringify({ created: 1, data: [{ b64_json: "QUJD" }], usage: imageUsage }));
    const want = { ...none, model: "gpt-image-1", prompt: "50", completion: "4160", total: "4210", cached: "8" };
    const req = { ct: "application/json", body: JSON.stringify({ model: "gpt-image-1", prompt: "a cat" }) };
    expect(call(s, "/v1/images/generations", req, { ct: "application/json", body: [body] }).state).toEqual(want);
    for (let at = 1; at < body.length; at++)
      expect([at, call(s, "/v1/images/generations", req, { ct: "application/json", body: cut(body, [at]) }).state]).toEqual([at, want]);
  });

  it("image edit (a form upload, streamed): observed, its body passes unread and unchanged; the completed event's usage", () => {
    const upload = form({ model: "gpt-image-1", prompt: "add a hat", stream: "true", image: "\x89PNG\r\n\x1a\n...binary..." });
    const body =
      `event: image_edit.partial_image\ndata: ${JSON.stringify({ type: "image_edit.partial_image", b64_json: "QUJD", partial_image_index: 0 })}\n\n` +
      `event: image_edit.completed\ndata: ${JSON.stringify({ type: "image_edit.completed", b64_json: "QUJD", usage: imageUsage })}\n\n`;
    const r = call(s, "/v1/images/edits", { ct: FORM_CT, body: upload }, { ct: "text/event-stream", body: [enc.encode(body)] });
    expect(r.state).toEqual({ ...none, prompt: "50", completion: "4160", total: "4210", cached: "8" });
    expect(r.upstreamBody).toBe(Buffer.from(upload).toString("latin1"));
    expect(r.downstreamBody).toBe(body);
  });

  it("dall-e answers carry no usage: no_usage", () => {
    const r = call(
      s,
      "/v1/images/generations",
      { ct: "application/json", body: JSON.stringify({ model: "dall-e-3", prompt: "a cat" }) },
      { ct: "application/json", body: [enc.encode(JSON.stringify({ created: 1, data: [{ url: "https://example.com/a.png" }] }))] },
    );
    expect(r.state).toEqual({ ...none, model: "dall-e-3", skip: "no_usage" });
  });

  it("transcription billed in tokens (gpt-4o-transcribe), JSON and streamed", () => {
    const usage = {
      type: "tokens",
      input_tokens: 14,
      input_token_details: { text_tokens: 0, audio_tokens: 14 },
      output_tokens: 45,
      total_tokens: 59,
    };
    const req = { ct: FORM_CT, body: form({ model: "gpt-4o-transcribe", file: "RIFF....WAVE" }) };
    const want = { ...none, prompt: "14", completion: "45", total: "59" };
    expect(
      call(s, "/v1/audio/transcriptions", req, { ct: "application/json", body: [enc.encode(JSON.stringify({ text: "Hi", usage }))] }).state,
    ).toEqual(want);
    const stream =
      `data: ${JSON.stringify({ type: "transcript.text.delta", delta: "Hi" })}\n\n` +
      `data: ${JSON.stringify({ type: "transcript.text.done", text: "Hi", usage })}\n\n`;
    expect(call(s, "/v1/audio/transcriptions", req, { ct: "text/event-stream", body: [enc.encode(stream)] }).state).toEqual(want);
  });

  it("transcription billed by duration (whisper-1): seconds in filter state, no token state, no token counter", () => {
    const body = enc.encode(JSON.stringify({ text: "The sun rises in the east.", usage: { type: "duration", seconds: 7 } }));
    const req = { ct: FORM_CT, body: form({ model: "whisper-1", file: "RIFF....WAVE" }) };
    const r = call(s, "/v1/audio/transcriptions", req, { ct: "application/json", body: [body] });
    expect(r.state).toEqual({ ...none, seconds: "7" });
    expect(r.tokenCounters).toEqual([]);
    for (let at = 1; at < body.length; at++)
      expect([at, call(s, "/v1/audio/transcriptions", req, { ct: "application/json", body: cut(body, [at]) }).state]).toEqual([
        at,
        r.state,
      ]);
  });

  it("a form upload to a shape that takes none (chat completions) is not observed", () => {
    const r = call(
      s,
      "/v1/chat/completions",
      { ct: FORM_CT, body: form({ model: "gpt-4o" }) },
      {
        ct: "application/json",
        body: [enc.encode(JSON.stringify({ model: "gpt-4o", usage: { prompt_tokens: 1, completion_tokens: 1 } }))],
      },
    );
    expect(r.state).toEqual(none);
  });
});
