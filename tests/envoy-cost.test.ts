// Cost in real Envoy (both pinned versions) and the TypeScript host: a price table, the mixed
// run over every API shape (tests/helpers/pricing-run.ts) with responses split across TCP
// writes; each request's request_cost in the access log and each series'
// asm_llm_proxy_cost_micros equal what the test computes from the providers' published
// formulas; unpriced models counted in asm_llm_proxy_unpriced_requests; cache-write tokens as
// their own counter. One worker, so one VM carries the sub-micro remainders (with N workers
// each VM floors its own share: docs/metrics.md).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cut } from "./helpers/harness";
import { ScriptedUpstream } from "./helpers/scripted-upstream";
import { ENVOYS, accessLogsAfter, send, startProxy, type ProxyUnderTest } from "./helpers/envoy";
import { scrape } from "./helpers/local";
import { CURRENCY, PRICED_CASES, PRICING, decimal, expectedCounters, type PricedCase } from "./helpers/pricing-run";

let upstream: ScriptedUpstream;
const proxies: ProxyUnderTest[] = [];
let current: PricedCase | undefined;

beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => {
    const body = Buffer.from(current!.response);
    const third = Math.max(1, Math.floor(body.length / 3));
    return { status: 200, headers: current!.responseHeaders, pieces: cut(body, [third, 2 * third]), gapMs: 2 };
  }).listen();
  for (const which of [...ENVOYS, "node"]) {
    proxies.push(
      await startProxy(which, { upstream: new URL(upstream.url), pluginConfig: JSON.stringify({ pricing: PRICING }), concurrency: 1 }),
    );
  }
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await upstream?.close();
});

/** A counter's values by `destination|model`. */
async function counter(p: ProxyUnderTest, name: string): Promise<Map<string, bigint>> {
  const out = new Map<string, bigint>();
  for (const s of await scrape(p.adminUrl)) {
    if (s.name !== name) continue;
    out.set(`${s.labels.llmproxy_destination_service}|${s.labels.llmproxy_model}`, BigInt(s.line.slice(s.line.lastIndexOf(" ") + 1)));
  }
  return out;
}

describe("cost through Envoy and the TypeScript host", () => {
  it("a mixed run over every shape: request_cost and asm_llm_proxy_cost_micros = the providers' formulas; unpriced counted", async () => {
    for (const [index, c] of PRICED_CASES.entries()) {
      current = c;
      for (const p of proxies) {
        const res = await send(p.proxyUrl, {
          authority: c.authority,
          path: c.path,
          headers: { "content-type": "application/json", ...(c.requestHeaders ?? {}) },
          body: [c.request],
        });
        expect(res.status, `${p.name}: ${c.name}`).toBe(200);
        expect(res.body.toString(), `${p.name}: ${c.name}`).toBe(c.response);
        const log = (await accessLogsAfter(p, index + 1))[index];
        const cost = log.request_cost;
        if (c.cost === "unpriced") expect([null, undefined, "-"], `${p.name}: ${c.name}`).toContain(cost);
        else {
          expect(cost, `${p.name}: ${c.name}`).toBe(decimal(c.cost));
          expect(log.request_cost_currency, `${p.name}: ${c.name}`).toBe(CURRENCY);
        }
      }
    }
    const want = expectedCounters(PRICED_CASES);
    const unpriced = new Map([...want.unpriced].map(([k, v]) => [k, BigInt(v)]));
    for (const p of proxies) {
      expect(await counter(p, "asm_llm_proxy_cost_micros"), p.name).toEqual(want.costMicros);
      expect(await counter(p, "asm_llm_proxy_unpriced_requests"), p.name).toEqual(unpriced);
      expect(await counter(p, "asm_llm_proxy_cache_write_tokens"), p.name).toEqual(
        new Map([
          ["api.anthropic.com|claude-sonnet-4-5", 2060n],
          ["bedrock-runtime.us-east-1.amazonaws.com|anthropic.claude-3-5-sonnet-20240620-v1:0", 200n],
          ["bedrock-runtime.us-east-1.amazonaws.com|us.anthropic.claude-sonnet-4-20250514-v1:0", 100n],
        ]),
      );
    }
    // The sum over the run, as a dashboard's sum() shows it.
    const total = [...want.costMicros.values()].reduce((a, b) => a + b, 0n);
    expect(total).toBeGreaterThan(0n);
  });
});
