// Soak: 100,000 streams of every kind through one VM, then 64 MiB bodies streamed
// through in 64 KiB chunks (observe-only JSON both ways, and one 64 MiB SSE event). Reports the
// wasm linear memory along the way; exits 1 if it grew over the second half of the streams, if
// it grew while streaming 64 MiB after a 1 MiB warm-up, or if the VM failed.
//   npm run soak -- [--streams 100000] [--mib 64]
import { sidecar } from "../tests/helpers/sidecar";
import { openaiJson, openaiSse, dashscopeSse } from "../tests/helpers/bodies";
import type { Sidecar } from "../tests/helpers/sidecar";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const STREAMS = Number(opt("streams", "100000"));
const MIB = Number(opt("mib", "64"));
const CHUNK = 64 * 1024;

const H = (path: string, authority = "api.openai.com"): [string, string][] => [
  [":method", "POST"],
  [":path", path],
  [":authority", authority],
  [":scheme", "http"],
  ["content-type", "application/json"],
];
const CHAT = "/v1/chat/completions";

function bigChunks(bytes: number, sse: boolean, prefix = '{"choices":[{"message":{"content":"'): Buffer[] {
  const head = Buffer.from((sse ? "data: " : "") + prefix);
  const tail = Buffer.from('"}}],"usage":{"prompt_tokens":3,"completion_tokens":4}}' + (sse ? "\n\ndata: [DONE]\n\n" : ""));
  const filler = Buffer.alloc(CHUNK, 0x61);
  for (let i = 0; i < CHUNK; i += 97) filler.set(Buffer.from('\\"x\\u00e9'), i);
  const out = [head];
  for (let n = head.length + tail.length; n < bytes; n += CHUNK) out.push(filler);
  out.push(tail);
  return out;
}

function big(s: Sidecar, bytes: number, sse: boolean): { statuses: Set<number>; prompt?: string; ms: number } {
  const t0 = Date.now();
  const st = s.vm.newStream();
  const statuses = new Set<number>();
  st.sendRequestHeaders(H(CHAT), false);
  const req = bigChunks(bytes, false, '{"model":"gpt-4o-mini","messages":[{"content":"');
  req.forEach((c, i) => statuses.add(st.sendRequestBody(c, i === req.length - 1)));
  st.sendResponseHeaders(
    [
      [":status", "200"],
      ["content-type", sse ? "text/event-stream" : "application/json"],
    ],
    false,
  );
  const resp = bigChunks(bytes, sse);
  resp.forEach((c, i) => statuses.add(st.sendResponseBody(c, i === resp.length - 1)));
  st.finish();
  const fs =
    (st.filterState as unknown as { map?: Map<string, { value: Uint8Array }> }).map ??
    (st.filterState as unknown as Map<string, { value: Uint8Array }>);
  const p = fs.get("wasm.asm.llmproxy.request_prompt_tokens");
  return { statuses, prompt: p ? Buffer.from(p.value).toString() : undefined, ms: Date.now() - t0 };
}

async function main() {
  const s = await sidecar({ pluginConfig: { providers: [{ name: "p", hosts: ["llm.example"], model: "routed" }] } });
  const json = openaiJson("gpt-4o-mini", { prompt: 5, completion: 6 });
  const sse = openaiSse("gpt-4o-mini", { prompt: 5, completion: 6 }, { words: 3 });
  const ds = dashscopeSse({ prompt: 5, completion: 6 }, 3);
  const req = '{"model":"gpt-4o-mini","stream":true,"messages":[]}';
  const kinds: (() => void)[] = [
    () =>
      s.call({
        request: { path: CHAT, authority: "api.openai.com", headers: [["content-type", "application/json"]], body: req },
        response: { status: 200, headers: [["content-type", "application/json"]], body: json },
      }),
    () =>
      s.call({
        request: { path: CHAT, authority: "api.openai.com", headers: [["content-type", "application/json"]], body: req },
        response: { status: 200, headers: [["content-type", "text/event-stream"]], body: [sse.slice(0, 100), sse.slice(100)] },
      }),
    () =>
      s.call({
        request: {
          path: "/api/v1/services/aigc/text-generation/generation",
          authority: "dashscope.aliyuncs.com",
          headers: [["content-type", "application/json"]],
          body: '{"model":"qwen-turbo","input":{}}',
        },
        response: { status: 200, headers: [["content-type", "text/event-stream"]], body: ds },
      }),
    () =>
      s.call({
        request: { path: CHAT, authority: "llm.example", headers: [["content-type", "application/json"]], body: '{"messages":[]}' },
        response: { status: 200, headers: [["content-type", "application/json"]], body: json },
      }),
    () => {
      const st = s.vm.newStream();
      st.sendRequestHeaders(H(CHAT, "llm.example"), false);
      st.sendRequestBody('{"model":"x","messages":[', false);
      st.finish();
    },
    () => {
      const st = s.vm.newStream();
      st.sendRequestHeaders(H(CHAT), false);
      st.sendRequestBody(req, true);
      st.sendResponseHeaders(
        [
          [":status", "200"],
          ["content-type", "text/event-stream"],
        ],
        false,
      );
      st.sendResponseBody(sse.slice(0, 200), false);
      st.finish();
    },
    () =>
      s.call({
        request: {
          path: CHAT,
          authority: "api.openai.com",
          headers: [["content-type", "application/json"]],
          body: `{"model":"m-${Math.random()}"}`,
        },
        response: { status: 429, headers: [["content-type", "application/json"]], body: '{"error":{"message":"slow down"}}' },
      }),
    () =>
      s.call({
        request: {
          path: CHAT,
          authority: "api.openai.com",
          headers: [["content-type", "application/json"]],
          body: `{"model":"n-${Math.random()}"}`,
        },
        response: { status: 200, headers: [["content-type", "application/json"]], body: json },
      }),
  ];
  const t0 = Date.now();
  const marks: { streams: number; wasmBytes: number; ms: number }[] = [];
  for (let i = 1; i <= STREAMS; i++) {
    kinds[i % kinds.length]();
    if (i % Math.max(1, Math.floor(STREAMS / 10)) === 0) marks.push({ streams: i, wasmBytes: s.vm.memoryBytes(), ms: Date.now() - t0 });
  }
  const half = marks.find((m) => m.streams >= STREAMS / 2)!.wasmBytes;
  const end = s.vm.memoryBytes();
  console.log(
    JSON.stringify(
      {
        streams: STREAMS,
        seconds: (Date.now() - t0) / 1000,
        failed: s.vm.failed,
        wasmBytesAtHalf: half,
        wasmBytesAtEnd: end,
        growthSecondHalf: end - half,
        metricIds: s.stats.idCount(),
        marks,
      },
      null,
      1,
    ),
  );

  const warm = big(s, 1 << 20, false);
  big(s, 1 << 20, true);
  const before = s.vm.memoryBytes();
  const j = big(s, MIB << 20, false);
  const afterJson = s.vm.memoryBytes();
  const e = big(s, MIB << 20, true);
  const afterSse = s.vm.memoryBytes();
  const result = {
    mib: MIB,
    wasmBytesBefore: before,
    wasmBytesAfterJson: afterJson,
    wasmBytesAfterSseEvent: afterSse,
    jsonMs: j.ms,
    sseMs: e.ms,
    jsonPrompt: j.prompt,
    ssePrompt: e.prompt,
    filterReturns: [...new Set([...warm.statuses, ...j.statuses, ...e.statuses])],
    failed: s.vm.failed,
  };
  console.log(JSON.stringify(result, null, 1));
  const bad =
    s.vm.failed ||
    end !== half ||
    afterJson !== before ||
    afterSse !== before ||
    j.prompt !== "3" ||
    e.prompt !== "3" ||
    result.filterReturns.some((x) => x !== 0);
  process.exit(bad ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
