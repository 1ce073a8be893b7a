// The SSE event prefilter (assembly/json/prefilter.ts, SseFramer.passQuietEvent): an event that
// lies whole in one chunk may be passed over unread when reading it could change nothing. The
// oracle: the same stream delivered one byte per chunk never takes that path (no event is ever
// whole in a chunk), so both deliveries must publish the same, and that must be the reference
// model's answer. The events are chosen to look quiet to a careless prefilter: escaped keys,
// nested keys, `null` lookalikes, a model that differs by one byte, keys after whitespace.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { checkAgainstReference, snap, type Snapshot } from "./helpers/harness";
import type { Shape } from "./helpers/reference";

const enc = new TextEncoder();

/** The shapes that stream in SSE (Bedrock's stream is binary, DashScope apps' answers are JSON). */
type SseShape = Extract<Shape, "openai" | "anthropic" | "dashscope" | "responses" | "gemini">;
const SSE_SHAPES: SseShape[] = ["openai", "anthropic", "dashscope", "responses", "gemini"];
const PATH: Record<SseShape, string> = {
  openai: "/v1/chat/completions",
  anthropic: "/v1/messages",
  dashscope: "/api/v1/services/aigc/text-generation/generation",
  responses: "/v1/responses",
  gemini: "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse",
};
const REQUEST: Record<SseShape, string> = {
  openai: '{"model":"gpt-4o-mini","stream":true}',
  anthropic: '{"model":"claude-3-5-haiku","stream":true,"max_tokens":10}',
  dashscope: '{"model":"qwen-turbo","input":{}}',
  responses: '{"model":"gpt-4.1","stream":true,"input":"hi"}',
  gemini: '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}',
};

/** Events that must be read (they change something, or might), and events that may be passed over. */
const EVENTS = [
  '{"id":"c1","model":"m1","choices":[{"delta":{"content":"hi"}}],"usage":null}',
  '{"id":"c1","model":"m1","choices":[{"delta":{"content":"\\n\\"model\\":\\"zz\\""}}],"usage":null}',
  '{"mod\\u0065l":"m2","usage":null}',
  '{"\\u006dodel":"m3"}',
  '{"\\u0075sage":{"prompt_tokens":41,"completion_tokens":42}}',
  '{"usag\\u0065":{"input_tokens":43,"output_tokens":44}}',
  '{"choices":[{"usage":{"prompt_tokens":5,"completion_tokens":6}}],"model":"m1"}',
  '{"usage":nullx}',
  '{"usage": null , "model" : "m1"}',
  '{ "usage" :\t{"prompt_tokens":7,"completion_tokens":8,"input_tokens":7,"output_tokens":8}}',
  '{"model":"m1\\u0000"}',
  '{"model":"m1x"}',
  '{"model":"m\\u0031"}',
  '{"model":"m1","model":"m9"}',
  '{"model":null}',
  '{"usage":null,"usage":{"prompt_tokens":3,"completion_tokens":1,"input_tokens":3,"output_tokens":1}}',
  '{"error":{"message":"overloaded"}}',
  '{"error":null,"code":null}',
  '{"code":"Throttling"}',
  '{"message":{"model":"m5","usage":{"input_tokens":11,"output_tokens":12}}}',
  '{"message":null}',
  '{"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"x"}}',
  '{"output":{"text":"abc"},"usage":{"input_tokens":9,"output_tokens":10,"total_tokens":19}}',
  '{"usage":{"prompt_tokens":1,"completion_tokens":2,"input_tokens":1,"output_tokens":2},"model":"m1"',
  '{"model":"m1","usage":null}}',
  '{"model":"m1" "usage":null}',
  '[{"usage":{"prompt_tokens":5}}]',
  '{"type":"response.completed","response":{"model":"m1","usage":{"input_tokens":5,"output_tokens":6,"total_tokens":11}}}',
  '{"type":"response.output_text.delta","delta":"x","response":null}',
  '{"r\\u0065sponse":{"model":"m6","usage":{"input_tokens":9,"output_tokens":9,"total_tokens":18}}}',
  '{"candidates":[{"content":{"parts":[{"text":"x"}]}}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"totalTokenCount":7},"modelVersion":"g1"}',
  '{"usageM\\u0065tadata":{"promptTokenCount":8,"candidatesTokenCount":9,"totalTokenCount":17}}',
  '{"modelVersion":"g2","usageMetadata":null}',
  '"usage"',
  // Nested keys, for the shapes judged by every key (OpenAI): a finish reason or usage inside
  // `choices`, escaped, after a string ending in `,` or `{` (a quote that looks like a key's),
  // under `x_groq`, tool calls as content, an empty name.
  '{"model":"m1","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}',
  '{"model":"m1","choices":[{"index":0,"delta":{},"fin\u0069sh_reason":"length"}],"usage":null}',
  '{"model":"m1","choices":[{"delta":{"content":"a,"},"finish_reason":"tool_calls"}]}',
  '{"model":"m1","choices":[{"delta":{"content":"{ "},"usage":{"prompt_tokens":13,"completion_tokens":14}}]}',
  '{"model":"m1","choices":[{"delta":{"content":"x"},"finish_reason":null,"usage":null}],"usage":null}',
  '{"model":"m1","choices":[{"delta":{"tool_calls":[{"index":0}]},"finish_reason":null}]}',
  '{"model":"m1","x_groq":{"id":"q","usage":{"prompt_tokens":15,"completion_tokens":16,"total_tokens":31}}}',
  '{"model":"m1","choices":[{"delta":{"content":""},"logprobs":null,"finish_reason":null}],"":1}',
  '{"model":"m1","choices":[{"delta":{"content":"y"},"finish_reason" : "stop"}]}',
  '{"model":"m1","choices":[{"text":"z","finish_reason":null}],"usage":{"prompt_tokens":17,"completion_tokens":18,"total_tokens":35,"completion_tokens_details":{"reasoning_tokens":2}}}',
  "",
  "[DONE]",
];

const LINE_ENDS = ["\n", "\r\n", "\r"];

const event = fc.record({
  data: fc.constantFrom(...EVENTS),
  eol: fc.constantFrom(...LINE_ENDS),
  before: fc.constantFrom("", "event: message", ": keep-alive", "id: 7", "dat: x", "data", "data:"),
  space: fc.boolean(),
  twoLines: fc.integer({ min: 0, max: 9 }),
});

function render(events: { data: string; eol: string; before: string; space: boolean; twoLines: number }[]): string {
  let out = "";
  for (const e of events) {
    if (e.before) out += e.before + e.eol;
    const data = e.data;
    const cut = e.twoLines === 0 && data.length > 2 ? data.indexOf(",") : -1;
    if (cut > 0) out += `data:${e.space ? " " : ""}${data.slice(0, cut + 1)}${e.eol}data:${data.slice(cut + 1)}${e.eol}`;
    else out += `data:${e.space ? " " : ""}${data}${e.eol}`;
    out += e.eol;
  }
  return out;
}

function call(s: Sidecar, shape: SseShape, body: Uint8Array[]): Snapshot {
  return snap(s, {
    request: {
      method: "POST",
      path: PATH[shape],
      authority: "api.example.com",
      headers: [["content-type", "application/json"]],
      body: enc.encode(REQUEST[shape]),
    },
    response: { status: 200, headers: [["content-type", "text/event-stream"]], body },
  });
}

const bytes = (b: Uint8Array) => Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));

describe("SSE prefilter: passing over an event never changes what is published", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  for (const shape of SSE_SHAPES) {
    it(`${shape}: whole events in one chunk = one byte per chunk = reference`, () => {
      fc.assert(
        fc.property(fc.array(event, { minLength: 1, maxLength: 8 }), (evs) => {
          // two sound events first: the first is read (nothing parsed yet), so the framer skips
          // the look-ahead for one event (sse.ts back-off); from the third on, any may be passed over
          const sound = { data: EVENTS[0], eol: "\n", before: "", space: true, twoLines: 9 };
          const body = enc.encode(render([sound, sound, ...evs]));
          const whole = call(s, shape, [body]);
          const split = call(s, shape, bytes(body));
          expect(whole.failed).toBe(false);
          expect(whole.filterState).toEqual(split.filterState);
          expect(whole.counters).toEqual(split.counters);
          const problems = checkAgainstReference(
            whole,
            shape,
            enc.encode(REQUEST[shape]),
            { status: 200, headers: [["content-type", "text/event-stream"]], body },
            PATH[shape],
          );
          expect(problems).toEqual([]);
        }),
        { numRuns: 400 },
      );
    });
  }

  it("each tricky event alone after sound ones, every line end", () => {
    for (const shape of SSE_SHAPES) {
      for (const data of EVENTS) {
        for (const eol of LINE_ENDS) {
          const body = enc.encode(
            render([
              { data: EVENTS[0], eol, before: "", space: true, twoLines: 9 },
              { data: EVENTS[0], eol, before: "", space: true, twoLines: 9 },
              { data, eol, before: "", space: true, twoLines: 9 },
              { data: EVENTS[0], eol, before: "", space: false, twoLines: 9 },
            ]),
          );
          const whole = call(s, shape, [body]);
          const split = call(s, shape, bytes(body));
          // counters too: the finish reasons and error classes are published only there
          expect({ shape, data, eol, state: whole.filterState, counters: whole.counters }).toEqual({
            shape,
            data,
            eol,
            state: split.filterState,
            counters: split.counters,
          });
        }
      }
    }
  });

  it("a stream of quiet events keeps the first event's model and the last event's usage", () => {
    const quiet = '{"id":"c1","model":"m1","choices":[{"delta":{"content":"hi"}}],"usage":null}';
    const body =
      `data: ${quiet}\n\n`.repeat(50) +
      'data: {"model":"m1","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":34}}\n\ndata: [DONE]\n\n';
    const r = call(s, "openai", [enc.encode(body)]);
    expect(r.filterState["wasm.asm.llmproxy.response_model"]).toBe("m1");
    expect(r.filterState["wasm.asm.llmproxy.request_prompt_tokens"]).toBe("12");
    expect(r.filterState["wasm.asm.llmproxy.request_completion_tokens"]).toBe("34");
  });
});
