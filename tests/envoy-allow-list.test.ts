// Issue 23: modelAllowList had no bound; 200,000 names cost ~151 MiB of linear memory per worker
// and 23-32 s to configure in real Envoy. It is now bounded where the configuration is described
// (config/schema.json: 10,000 names of at most 256 bytes). In each Envoy: a list past the bound
// is refused by on_configure with a log line naming the field, so Envoy does not start the
// plugin; a list at the bound configures, and only its names become model labels.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { JSON_HEADERS, openaiJson, openaiRequest } from "./helpers/bodies";
import { ScriptedUpstream } from "./helpers/scripted-upstream";
import { ENVOYS, llmproxyLines, send, startProxy } from "./helpers/envoy";

let upstream: ScriptedUpstream;
let model = "model-9999";
beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => ({
    status: 200,
    headers: JSON_HEADERS,
    pieces: [openaiJson(model, { prompt: 3, completion: 4 })],
  })).listen();
});
afterAll(async () => upstream?.close());

const names = (n: number) => Array.from({ length: n }, (_, i) => `model-${i}`);

describe.each(ENVOYS)("envoy %s: modelAllowList bounded", (version) => {
  it("200,000 names: refused by on_configure naming the field", async () => {
    const start = startProxy(version, {
      upstream: new URL(upstream.url),
      pluginConfig: JSON.stringify({ modelAllowList: names(200_000) }),
      concurrency: 1,
    });
    await expect(start).rejects.toThrow(/modelAllowList: at most 10000 entries, got 200000/);
  }, 120_000);

  it("10,000 names (the bound): configured; an allowed model is its own label, another folds into other", async () => {
    const p = await startProxy(version, {
      upstream: new URL(upstream.url),
      pluginConfig: JSON.stringify({ modelAllowList: names(10_000) }),
      concurrency: 1,
    });
    try {
      for (const m of ["model-9999", "gpt-4o-mini"]) {
        model = m;
        const r = await send(p.proxyUrl, {
          authority: "api.openai.com",
          path: "/v1/chat/completions",
          headers: { "content-type": "application/json" },
          body: [openaiRequest(m)],
        });
        expect(r.status).toBe(200);
      }
      const prompt = (await llmproxyLines(p)).filter((l) => l.startsWith("asm_llm_proxy_prompt_tokens{"));
      expect(prompt.some((l) => l.includes('llmproxy_model="model-9999"') && l.endsWith(" 3"))).toBe(true);
      expect(prompt.some((l) => l.includes('llmproxy_model="other"') && l.endsWith(" 3"))).toBe(true);
      expect(prompt.some((l) => l.includes("gpt-4o-mini"))).toBe(false);
    } finally {
      await p.close();
    }
  }, 120_000);
});
