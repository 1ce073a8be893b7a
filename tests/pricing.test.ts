// The `pricing` section (assembly/pricing.ts, assembly/cost.ts) in the TypeScript host: every
// field validated with its name; a mixed run over every API shape whose request_cost and
// asm_llm_proxy_cost_micros equal the providers' own formulas computed independently
// (tests/helpers/pricing-run.ts); unpriced models counted by model; first match wins; sub-micro
// fractions carried, not rounded away; absurd counts and prices exact and without a trap; and
// the cost of configuring a 10,000-row table, reported (no timing assertion).
import { describe, expect, it } from "vitest";
import { configure, sidecar, type Sidecar } from "./helpers/sidecar";
import { cut } from "./helpers/harness";
import { CURRENCY, PRICED_CASES, PRICING, decimal, expectedCounters, type PricedCase } from "./helpers/pricing-run";
import { JSON_HEADERS, openaiJson } from "./helpers/bodies";

const enc = new TextEncoder();
const STATE = "wasm.asm.llmproxy.";

function run(s: Sidecar, c: PricedCase, pieces = 3) {
  const body = enc.encode(c.response);
  const step = Math.max(1, Math.floor(body.length / pieces));
  const cuts = Array.from({ length: pieces - 1 }, (_, i) => (i + 1) * step);
  return s.call({
    request: {
      path: c.path,
      authority: c.authority,
      headers: [["content-type", "application/json"], ...Object.entries(c.requestHeaders ?? {})],
      body: c.request,
    },
    response: { status: 200, headers: c.responseHeaders, body: cut(body, cuts) },
  });
}

/** Counter values by `destination|model` for one stat. */
function counters(s: Sidecar, stat: string): Map<string, bigint> {
  const out = new Map<string, bigint>();
  for (const line of s.prometheus(new RegExp(`^${stat}\\{`))) {
    const dest = /llmproxy_destination_service="([^"]*)"/.exec(line)![1];
    const model = /llmproxy_model="([^"]*)"/.exec(line)![1];
    out.set(`${dest}|${model}`, BigInt(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return out;
}

describe("pricing: a mixed run over every API shape", () => {
  it("request_cost per request and asm_llm_proxy_cost_micros per series = the providers' formulas; unpriced counted by model", async () => {
    const s = await sidecar({ pluginConfig: { pricing: PRICING } });
    const shapes = new Set<string>();
    for (const c of PRICED_CASES) {
      const r = run(s, c);
      expect(s.vm.failed, c.name).toBe(false);
      expect(r.filterState[`${STATE}usage_skipped`], c.name).toBeUndefined();
      if (c.cost === "unpriced") {
        expect(r.filterState[`${STATE}request_cost`], c.name).toBeUndefined();
      } else {
        expect(r.filterState[`${STATE}request_cost`], c.name).toBe(decimal(c.cost));
        expect(r.filterState[`${STATE}request_cost_currency`], c.name).toBe(CURRENCY);
        expect(r.accessLog.request_cost, c.name).toBe(decimal(c.cost));
      }
      shapes.add(c.path.replace(/\/model\/[^/]+/, "").replace(/models\/[^:]+/, ""));
    }
    const want = expectedCounters(PRICED_CASES);
    expect(counters(s, "asm_llm_proxy_cost_micros")).toEqual(want.costMicros);
    expect(Object.fromEntries(counters(s, "asm_llm_proxy_unpriced_requests"))).toEqual(
      Object.fromEntries([...want.unpriced].map(([k, v]) => [k, BigInt(v)])),
    );
    // Every shape of the registry took part (dashscope-apps as unpriced).
    expect(shapes.size).toBeGreaterThanOrEqual(8);
    // Cache-write tokens as their own counter (Anthropic, Bedrock): 12 + 2048, 200, 100.
    expect(counters(s, "asm_llm_proxy_cache_write_tokens")).toEqual(
      new Map([
        ["api.anthropic.com|claude-sonnet-4-5", 2060n],
        ["bedrock-runtime.us-east-1.amazonaws.com|anthropic.claude-3-5-sonnet-20240620-v1:0", 200n],
        ["bedrock-runtime.us-east-1.amazonaws.com|us.anthropic.claude-sonnet-4-20250514-v1:0", 100n],
      ]),
    );
  });

  it("each shape's token semantics, checked one by one against the naive sum (which would be wrong)", async () => {
    const s = await sidecar({ pluginConfig: { pricing: PRICING } });
    // Gemini: thoughts are billed as output although candidatesTokenCount excludes them; the
    // cached tokens are inside promptTokenCount. 1203-1024 at 0.3, 1024 at 0.03, 87+64 at 2.5.
    const gemini = PRICED_CASES.find((c) => c.name.startsWith("Gemini generateContent"))!;
    expect(run(s, gemini).filterState[`${STATE}request_cost`]).toBe(decimal(179n * 300_000n + 1024n * 30_000n + 151n * 2_500_000n));
    // Anthropic: input_tokens excludes the cache: 21 at 3, 188086 at 0.3, 12 at 3.75, 393 at 15.
    const anthropic = PRICED_CASES.find((c) => c.name.startsWith("Anthropic Messages SSE"))!;
    expect(run(s, anthropic).filterState[`${STATE}request_cost`]).toBe(
      decimal(21n * 3_000_000n + 188086n * 300_000n + 12n * 3_750_000n + 393n * 15_000_000n),
    );
    // OpenAI: prompt_tokens includes cached; reasoning is inside completion (not added again).
    const openai = PRICED_CASES.find((c) => c.name.startsWith("OpenAI chat JSON, cached"))!;
    expect(run(s, openai).filterState[`${STATE}request_cost`]).toBe(decimal(93n * 1_100_000n + 1024n * 275_000n + 46n * 4_400_000n));
  });
});

const chatCase = (model: string, prompt: number, completion: number): PricedCase => ({
  name: model,
  authority: "api.openai.com",
  path: "/v1/chat/completions",
  request: JSON.stringify({ model, messages: [] }),
  responseHeaders: JSON_HEADERS,
  response: openaiJson(model, { prompt, completion }),
  model,
  cost: 0n,
});

describe("pricing: matching and arithmetic", () => {
  it("first match wins: a prefix row before an exact row, an exact row before a prefix row", async () => {
    const s = await sidecar({
      pluginConfig: {
        pricing: {
          models: [
            { model: "a-*", input: 1, output: 1 },
            { model: "a-b", input: 2, output: 2 },
            { model: "c", input: 3, output: 3 },
            { model: "c*", input: 4, output: 4 },
          ],
        },
      },
    });
    const cost = (m: string) => run(s, chatCase(m, 1_000_000, 0)).filterState[`${STATE}request_cost`];
    expect(cost("a-b")).toBe("1");
    expect(cost("c")).toBe("3");
    expect(cost("cd")).toBe("4");
    expect(cost("b")).toBeUndefined();
    expect(run(s, chatCase("a-b", 1, 0)).filterState[`${STATE}request_cost_currency`]).toBe("USD"); // the default
  });

  it("sub-micro costs add up across requests in the counter instead of rounding to 0 each time", async () => {
    // 1 token at 0.4 per Mtok = 0.4 micro-units; 10 requests = 4 micro-units.
    const s = await sidecar({ pluginConfig: { pricing: { models: [{ model: "tiny", input: 0.4, output: 0 }] } } });
    for (let i = 0; i < 10; i++) expect(run(s, chatCase("tiny", 1, 0)).filterState[`${STATE}request_cost`]).toBe("0.0000004");
    expect(counters(s, "asm_llm_proxy_cost_micros").get("api.openai.com|tiny")).toBe(4n);
  });

  it("the largest counts and prices: exact, no trap", async () => {
    const s = await sidecar({ pluginConfig: { pricing: { models: [{ model: "max", input: 1_000_000, output: 999_999.999999 }] } } });
    const r = run(s, chatCase("max", 999_999_999, 999_999_999));
    expect(s.vm.failed).toBe(false);
    const picos = 999_999_999n * 1_000_000_000_000n + 999_999_999n * 999_999_999_999n;
    expect(r.filterState[`${STATE}request_cost`]).toBe(decimal(picos));
    expect(counters(s, "asm_llm_proxy_cost_micros").get("api.openai.com|max")).toBe(picos / 1_000_000n);
    // A count past the scanner's bound (10^9) is no count: no cost, nothing made up.
    const past = run(s, chatCase("max", 1e12, 5));
    expect(past.filterState[`${STATE}request_cost`]).toBe(decimal(5n * 999_999_999_999n));
  });

  it("without a pricing section: no cost, no unpriced count", async () => {
    const s = await sidecar({});
    const r = run(s, chatCase("gpt-4o", 10, 10));
    expect(r.filterState[`${STATE}request_cost`]).toBeUndefined();
    expect(s.prometheus(/cost_micros|unpriced/)).toEqual([]);
  });
});

const row = { model: "m", input: 1, output: 2 };
const invalid: [string, unknown, string][] = [
  ["not an object", [], "pricing: expected an object, got an array"],
  ["unknown field", { models: [], currencies: "x" }, "pricing.currencies: unknown field"],
  ["models missing", { currency: "EUR" }, "pricing.models: required"],
  ["models not an array", { models: {} }, "pricing.models: expected an array"],
  ["row not an object", { models: [row, 3] }, "pricing.models[1]: expected an object, got a number"],
  ["row unknown field", { models: [{ ...row, cached: 1 }] }, "pricing.models[0].cached: unknown field"],
  ["model missing", { models: [{ input: 1, output: 1 }] }, "pricing.models[0].model: required"],
  ["model empty", { models: [{ ...row, model: "" }] }, "pricing.models[0].model: expected a non-empty model name"],
  ["star inside", { models: [{ ...row, model: "gpt-*-mini" }] }, "pricing.models[0].model: '*' is only allowed at the end"],
  ["model too long", { models: [{ ...row, model: "x".repeat(257) }] }, "pricing.models[0].model: at most 256 bytes"],
  ["input missing", { models: [row, row, row, { model: "m", output: 1 }] }, "pricing.models[3].input: required"],
  ["input negative", { models: [row, row, row, { ...row, input: -1 }] }, "pricing.models[3].input: expected a number >= 0"],
  ["input a string", { models: [{ ...row, input: "1.5" }] }, "pricing.models[0].input: expected a number >= 0"],
  ["output too large", { models: [{ ...row, output: 1_000_001 }] }, "pricing.models[0].output: expected a number >= 0 and <= 1000000"],
  ["7 decimal places", { models: [{ ...row, cachedInput: 0.0000001 }] }, "pricing.models[0].cachedInput: expected a number >= 0"],
  ["cacheWrite null", { models: [{ ...row, cacheWrite: null }] }, "pricing.models[0].cacheWrite: expected a number >= 0"],
  ["currency empty", { currency: "", models: [row] }, "pricing.currency: expected a currency name of 1 to 16"],
  ["currency with a space", { currency: "US D", models: [row] }, "pricing.currency: expected a currency name"],
  [
    "too many rows",
    { models: Array.from({ length: 10001 }, (_, i) => ({ model: `m${i}`, input: 1, output: 1 })) },
    "pricing.models: at most 10000 rows, got 10001",
  ],
];

describe("pricing: validation names the field", () => {
  for (const [name, pricing, message] of invalid) {
    it(name, async () => {
      const r = await configure({ pricing });
      expect(r.ok).toBe(false);
      expect(r.logs.join("\n")).toContain(`invalid configuration: ${message}`);
    });
  }
});

describe("pricing: a 10,000-row table", () => {
  it("configures, prices the last row and a prefix, and reports time to configure and memory per VM", async () => {
    const models = Array.from({ length: 10000 }, (_, i) => ({
      model: i % 2 === 0 ? `vendor-model-${i}-2025-01-01` : `vendor-family-${i}-*`,
      input: 0.5 + (i % 7) * 0.125,
      cachedInput: 0.05,
      cacheWrite: 0.625,
      output: 1.5 + (i % 5) * 0.25,
    }));
    const pluginConfig = JSON.stringify({ pricing: { currency: "EUR", models } });
    const baseline = await sidecar({});
    // Medians of three, in the same run: VM start + on_configure with and without the table.
    const timed = async (cfg: string) => {
      const ms: number[] = [];
      let last: Sidecar | undefined;
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        last = await sidecar({ pluginConfig: cfg });
        ms.push(performance.now() - t);
      }
      return { s: last!, ms: ms.sort((a, b) => a - b)[1] };
    };
    const { s, ms: configureMs } = await timed(pluginConfig);
    const { ms: emptyMs } = await timed("");
    const pages = (x: Sidecar) => x.vm.memoryBytes();
    // The last exact row (index 9998) and a prefix row near the end (9999).
    expect(run(s, chatCase("vendor-model-9998-2025-01-01", 1_000_000, 0)).filterState[`${STATE}request_cost`]).toBe(
      String(0.5 + (9998 % 7) * 0.125),
    );
    expect(run(s, chatCase("vendor-family-9999-xl", 0, 1_000_000)).filterState[`${STATE}request_cost`]).toBe(
      String(1.5 + (9999 % 5) * 0.25),
    );
    expect(run(s, chatCase("vendor-family-9999-xl", 0, 1)).filterState[`${STATE}request_cost_currency`]).toBe("EUR");
    console.log(
      `pricing: 10,000 rows (${(pluginConfig.length / 1024).toFixed(0)} KiB of JSON): VM start + on_configure ${configureMs.toFixed(1)} ms ` +
        `(empty configuration ${emptyMs.toFixed(1)} ms, ratio ${(configureMs / emptyMs).toFixed(1)}x); ` +
        `linear memory ${(pages(s) / 1048576).toFixed(2)} MiB vs ${(pages(baseline) / 1048576).toFixed(2)} MiB without a table`,
    );
  });
});
