// Real-looking provider bodies, built the way the providers send them.

export interface Tokens { prompt: number; completion: number; total?: number }

export function openaiRequest(model: string | undefined, extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ ...(model ? { model } : {}), messages: [{ role: "user", content: "Please introduce yourself" }], ...extra });
}

export function openaiJson(model: string, t: Tokens): string {
  return JSON.stringify({
    id: "chatcmpl-9f2c", object: "chat.completion", created: 1732550000, model,
    choices: [{ index: 0, message: { role: "assistant", content: "I am a large language model created by Alibaba Cloud. I am called Qwen." }, finish_reason: "stop" }],
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
  events.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: { role: "assistant", content: "" }, finish_reason: null }], usage: null }));
  for (let i = 0; i < words; i++) {
    events.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: { content: ` word${i} "quoted" \\ {"model":"fake"}` }, finish_reason: null }], usage: null }));
  }
  events.push(JSON.stringify({ ...base, choices: [{ index: 0, delta: {}, finish_reason: "stop" }], usage: null }));
  if (opts.includeUsage !== false) {
    events.push(JSON.stringify({ ...base, choices: [], usage: { prompt_tokens: t.prompt, completion_tokens: t.completion, total_tokens: t.total ?? t.prompt + t.completion } }));
  }
  events.push("[DONE]");
  return events.map((e) => `data: ${e}${nl}${nl}`).join("");
}

export function dashscopeRequest(model: string): string {
  return JSON.stringify({ model, input: { messages: [{ role: "user", content: "Please introduce yourself" }] }, parameters: { result_format: "message" } });
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
