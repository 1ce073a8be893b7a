// Shared by the robustness tests (properties, fuzz, odd responses, memory) and the long
// scripts: one exchange through a sidecar, reduced to what must never vary or go wrong.
import type { Sidecar } from "./sidecar";
import type { Exchange } from "../../host";
import { carriedBytes } from "./eventstream";
import { expected, appearsUnder, sumAppearsUnder, sumsField, TOKEN_KEYS, type Shape, type Expected } from "./reference";

export const STATE = "wasm.asm.llmproxy.";
export const TOKEN_STATE = {
  prompt: "request_prompt_tokens",
  completion: "request_completion_tokens",
  total: "request_total_tokens",
  cached: "request_cached_tokens",
  cacheWrite: "request_cache_write_tokens",
  reasoning: "request_reasoning_tokens",
} as const;

export const PATHS: Record<string, { path: string; shape: Shape }> = {
  openai: { path: "/v1/chat/completions", shape: "openai" },
  embeddings: { path: "/v1/embeddings", shape: "openai" },
  dashscope: { path: "/api/v1/services/aigc/text-generation/generation", shape: "dashscope" },
  anthropic: { path: "/v1/messages", shape: "anthropic" },
  responses: { path: "/v1/responses", shape: "responses" },
  gemini: { path: "/v1beta/models/gemini-2.5-flash:streamGenerateContent", shape: "gemini" },
  "bedrock-converse": { path: "/model/amazon.nova-pro-v1%3A0/converse", shape: "bedrock-converse" },
  "bedrock-invoke": { path: "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke", shape: "bedrock-invoke" },
  "dashscope-apps": { path: "/api/v1/apps/app123/completion", shape: "dashscope-apps" },
  cohere: { path: "/v2/chat", shape: "cohere" },
  ollama: { path: "/api/chat", shape: "ollama" },
  tgi: { path: "/generate_stream", shape: "tgi" },
  "vertex-anthropic": {
    path: "/v1/projects/p/locations/us-east5/publishers/anthropic/models/claude-sonnet-4@20250514:streamRawPredict",
    shape: "vertex-anthropic",
  },
  "openai-images": { path: "/v1/images/generations", shape: "openai-images" },
  "openai-audio": { path: "/v1/audio/transcriptions", shape: "openai-audio" },
  "gemini-embed": {
    path: "/v1/projects/p/locations/us-central1/publishers/google/models/text-embedding-005:predict",
    shape: "gemini-embed",
  },
};

export interface Snapshot {
  failed: boolean;
  trap?: string;
  filterState: Record<string, string>;
  /** Changes of llmproxy counters during this exchange, by full stat name. */
  counters: Record<string, number>;
  upstreamBody: string;
  downstreamBody: string;
  localReply?: number;
}

function counterValues(s: Sidecar): Map<string, number> {
  const m = new Map<string, number>();
  for (const st of s.stats.all("counter")) if (st.name.includes("asm_llm_proxy")) m.set(st.name, st.value);
  return m;
}

/** Runs one exchange and returns what it changed. */
export function snap(s: Sidecar, ex: Exchange): Snapshot {
  const before = counterValues(s);
  const r = s.call(ex);
  const after = counterValues(s);
  const counters: Record<string, number> = {};
  for (const [k, v] of after) if (v !== (before.get(k) ?? 0)) counters[k] = v - (before.get(k) ?? 0);
  return {
    failed: s.vm.failed,
    trap: s.vm.lastTrap?.message,
    filterState: r.filterState,
    counters,
    upstreamBody: Buffer.from(r.upstreamRequest?.body ?? new Uint8Array(0)).toString("latin1"),
    downstreamBody: Buffer.from(r.downstreamResponse.body).toString("latin1"),
    localReply: r.localReply?.status,
  };
}

export function concat(chunks: Uint8Array[]): Uint8Array {
  const n = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(n);
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

/** Cuts `b` at the given offsets (any order, duplicates allowed: empty chunks are real too). */
export function cut(b: Uint8Array, cuts: number[]): Uint8Array[] {
  const sorted = [...cuts].map((c) => Math.max(0, Math.min(b.length, c))).sort((x, y) => x - y);
  const out: Uint8Array[] = [];
  let at = 0;
  for (const c of sorted) {
    out.push(b.subarray(at, c));
    at = c;
  }
  out.push(b.subarray(at));
  return out;
}

/** Checks a snapshot against the reference model; returns the problems found (empty = fine). */
export function checkAgainstReference(
  snapshot: Snapshot,
  shape: Shape,
  request: Uint8Array,
  response: { status: number; headers: [string, string][]; body: Uint8Array },
  path = "",
): string[] {
  const problems: string[] = [];
  if (snapshot.failed) return [`VM failed: ${snapshot.trap}`];
  const exp: Expected = expected(shape, request, response, path);
  const fs = snapshot.filterState;
  // Numbers in a Bedrock event stream are inside frames, some in base64: looked for there.
  const eventStream = response.headers.some(([k, v]) => k.toLowerCase() === "content-type" && v.includes("vnd.amazon.eventstream"));
  const carriedBody = eventStream ? carriedBytes(response.body) : response.body;
  for (const k of Object.keys(TOKEN_STATE) as (keyof typeof TOKEN_STATE)[]) {
    const got = fs[STATE + TOKEN_STATE[k]];
    const want = exp.tokens[k];
    if (exp.exact) {
      if ((got === undefined) !== (want === undefined) || (got !== undefined && Number(got) !== want))
        problems.push(`${k}: got ${got}, want ${want}`);
    } else if (got !== undefined) {
      // lenient reading of broken input: the number must be one the input carried
      const n = Number(got);
      const p = Number(fs[STATE + TOKEN_STATE.prompt]),
        c = Number(fs[STATE + TOKEN_STATE.completion]);
      const carried =
        appearsUnder(carriedBody, TOKEN_KEYS[k], n) ||
        (sumsField(shape, k) && sumAppearsUnder(carriedBody, TOKEN_KEYS[k], n)) ||
        // an embeddings answer's total is its prompt when it reports no prompt (api-shapes.md)
        (k === "prompt" && /\/embeddings$/.test(path.split("?")[0]) && appearsUnder(carriedBody, ["total_tokens"], n));
      const ok = /^(0|[1-9][0-9]{0,14})$/.test(got) && (carried || (k === "total" && n === p + c));
      if (!ok) problems.push(`${k}: published ${got}, which the input does not carry`);
    }
  }
  if (exp.exact) {
    const wantSkip = exp.skip;
    const gotSkip = fs[STATE + "usage_skipped"];
    if (wantSkip !== gotSkip) problems.push(`usage_skipped: got ${gotSkip}, want ${wantSkip}`);
    const rm = fs[STATE + "request_model"];
    const wantRm = exp.requestModel ? stateModel(exp.requestModel) : undefined;
    if (rm !== wantRm) problems.push(`request_model: got ${rm}, want ${wantRm}`);
  }
  // counters: token counters only when token state says so, and with the same numbers
  for (const [name, delta] of Object.entries(snapshot.counters)) {
    const m = /asm_llm_proxy_(prompt|completion|cached|reasoning)_tokens\|/.exec(name);
    if (!m) continue;
    const k = m[1] as "prompt" | "completion" | "cached" | "reasoning";
    if (String(delta) !== fs[STATE + TOKEN_STATE[k]])
      problems.push(`counter ${name} +${delta} but filter state ${fs[STATE + TOKEN_STATE[k]]}`);
  }
  return problems;
}

/** What filter state holds of a model name (publish.ts stateModel, restated). */
export function stateModel(b: Uint8Array): string {
  const out = Buffer.from(b.subarray(0, 256));
  for (let i = 0; i < out.length; i++) if (out[i] < 0x20 || out[i] === 0x7f) out[i] = 0x5f;
  return new TextDecoder().decode(out);
}
