// The mock upstream of `npm start` speaks every API shape the filter reads: each request goes
// through the local sidecar (as to http://dashscope.aliyuncs.com, whose provider injects the
// key) and the counters on the admin listener show the mock's own token numbers.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { send } from "./helpers/http";
import { scrape, startLocal, type LocalSidecar } from "./helpers/local";
import { promptTokens, reply } from "../local/mock-llm";

async function post(
  proxyUrl: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: string }> {
  const r = await send(proxyUrl, {
    authority: "dashscope.aliyuncs.com",
    path,
    headers: { "content-type": "application/json", ...headers },
    body: [JSON.stringify(body)],
  });
  return { status: r.status, body: r.body.toString("utf8") };
}

const TEXT = "Explain how AI works in a few words";

describe("mock shapes through the local sidecar", () => {
  let s: LocalSidecar;
  beforeAll(async () => {
    s = await startLocal();
  });
  afterAll(async () => {
    await s?.close();
  });

  const counter = async (name: string, model: string) =>
    (await scrape(s.admin.url)).find((x) => x.name === name && x.labels.llmproxy_model === model)?.value ?? 0;

  const cases: {
    name: string;
    path: string;
    body: unknown;
    headers?: Record<string, string>;
    model: string;
    prompt: (p: number) => number;
    completion: (n: number) => number;
    cached?: (p: number) => number;
  }[] = [
    {
      name: "Responses API, JSON",
      path: "/v1/responses",
      body: { model: "gpt-5-mini", input: TEXT },
      model: "gpt-5-mini",
      prompt: (p) => p,
      completion: (n) => n,
      cached: (p) => Math.floor(p / 4),
    },
    {
      name: "Responses API, SSE",
      path: "/v1/responses",
      body: { model: "gpt-5-nano", input: TEXT, stream: true },
      model: "gpt-5-nano",
      prompt: (p) => p,
      completion: (n) => n,
    },
    {
      name: "Gemini, JSON",
      path: "/v1beta/models/gemini-2.5-flash:generateContent",
      body: { contents: [{ role: "user", parts: [{ text: TEXT }] }] },
      model: "gemini-2.5-flash",
      prompt: (p) => p,
      completion: (n) => n,
      cached: (p) => Math.floor(p / 4),
    },
    {
      name: "Gemini, alt=sse",
      path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
      body: { contents: [{ role: "user", parts: [{ text: TEXT }] }] },
      model: "gemini-2.5-pro",
      prompt: (p) => p,
      completion: (n) => n,
    },
    {
      name: "Gemini, JSON array stream",
      path: "/v1beta/models/gemini-2.0-flash:streamGenerateContent",
      body: { contents: [{ role: "user", parts: [{ text: TEXT }] }] },
      model: "gemini-2.0-flash",
      prompt: (p) => p,
      completion: (n) => n,
    },
    {
      name: "Anthropic Messages, SSE",
      path: "/v1/messages",
      body: { model: "claude-sonnet-4-5", max_tokens: 200, stream: true, messages: [{ role: "user", content: TEXT }] },
      model: "claude-sonnet-4-5",
      prompt: (p) => p - Math.floor(p / 4),
      completion: (n) => n,
      cached: (p) => Math.floor(p / 4),
    },
    {
      name: "Bedrock Converse",
      path: "/model/amazon.nova-pro-v1%3A0/converse",
      body: { messages: [{ role: "user", content: [{ text: TEXT }] }] },
      model: "amazon.nova-pro-v1:0",
      prompt: (p) => p - Math.floor(p / 4),
      completion: (n) => n,
    },
    {
      name: "Bedrock InvokeModel (Anthropic body)",
      path: "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke",
      body: { anthropic_version: "bedrock-2023-05-31", max_tokens: 200, messages: [{ role: "user", content: TEXT }] },
      model: "anthropic.claude-3-haiku-20240307-v1:0",
      prompt: (p) => p - Math.floor(p / 4),
      completion: (n) => n,
    },
    {
      name: "Bedrock ConverseStream (binary event stream)",
      path: "/model/amazon.nova-lite-v1%3A0/converse-stream",
      body: { messages: [{ role: "user", content: [{ text: TEXT }] }] },
      model: "amazon.nova-lite-v1:0",
      prompt: (p) => p - Math.floor(p / 4),
      completion: (n) => n,
      cached: (p) => Math.floor(p / 4),
    },
    {
      name: "Bedrock InvokeModelWithResponseStream (base64 chunks in an event stream)",
      path: "/model/anthropic.claude-3-5-haiku-20241022-v1%3A0/invoke-with-response-stream",
      body: { anthropic_version: "bedrock-2023-05-31", max_tokens: 200, messages: [{ role: "user", content: TEXT }] },
      model: "anthropic.claude-3-5-haiku-20241022-v1:0",
      prompt: (p) => p - Math.floor(p / 4),
      completion: (n) => n,
      cached: (p) => Math.floor(p / 4),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: 200 from the mock, the mock's numbers on the counters`, async () => {
      const before = [
        await counter("asm_llm_proxy_prompt_tokens", c.model),
        await counter("asm_llm_proxy_completion_tokens", c.model),
        await counter("asm_llm_proxy_cached_tokens", c.model),
      ];
      const r = await post(s.proxy.url, c.path, c.body, c.headers);
      expect(r.status, r.body).toBe(200);
      await s.waitForAccessLogs(s.accessLogs.length);
      const p = promptTokens(c.model, TEXT);
      const n = reply(c.model, TEXT).words.length;
      await expect
        .poll(async () => [
          (await counter("asm_llm_proxy_prompt_tokens", c.model)) - before[0],
          (await counter("asm_llm_proxy_completion_tokens", c.model)) - before[1],
        ])
        .toEqual([c.prompt(p), c.completion(n)]);
      if (c.cached) expect((await counter("asm_llm_proxy_cached_tokens", c.model)) - before[2]).toBe(c.cached(p));
    });
  }

  it("DashScope application: tokens summed over the models the app called", async () => {
    const r = await post(
      s.proxy.url,
      "/api/v1/apps/app-42/completion",
      { input: { prompt: TEXT }, parameters: {} },
      { "x-dashscope-sse": "enable" },
    );
    expect(r.status, r.body).toBe(200);
    const p = promptTokens("qwen-plus", TEXT);
    const n = reply("qwen-plus", TEXT).words.length;
    // the app named no model in the request: the label is the last model of usage.models[]
    await expect
      .poll(async () => [
        await counter("asm_llm_proxy_prompt_tokens", "qwen-plus"),
        await counter("asm_llm_proxy_completion_tokens", "qwen-plus"),
      ])
      .toEqual([p + (p + 20), 20 + n]);
  });
});
