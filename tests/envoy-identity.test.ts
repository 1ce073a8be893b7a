// Identity labels on the caller's sidecar in real Envoy (both pinned versions) and in the test
// host's local sidecar, through the bootstrap ConfigMap's stats_tags: the service account and
// SPIFFE ID from node metadata, a header label, the API key as a SHA-256 prefix (never the key),
// each bounded by maxValues (past it "other", counted); the key never in the output.
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockLlm } from "../local/mock-llm";
import { DEFAULT_MOCK_KEY } from "../local/options";
import { get, scrape, type Series } from "./helpers/local";
import { ENVOYS, send, startProxy, type ProxyUnderTest } from "./helpers/envoy";

const BODY = JSON.stringify({ model: "qwen-turbo", messages: [{ role: "user", content: "Who am I?" }] });
const TEAMS = ["payments", "search", "ads", "growth", "infra"];

// The test host's local sidecar too ("node"), which must agree with Envoy.
describe.each([...ENVOYS, "node"])("identity labels in %s", (which) => {
  let s: ProxyUnderTest;
  let mock: MockLlm;
  let series: Series[];

  beforeAll(async () => {
    mock = await new MockLlm({ apiKey: DEFAULT_MOCK_KEY }).listen(0);
    s = await startProxy(which, {
      upstream: new URL(mock.url),
      // The bound is per VM (one per worker, like the model label's): one worker makes the fold
      // deterministic. Observe-only: the client's own key goes upstream.
      concurrency: 1,
      pluginConfig: JSON.stringify({
        identity: { serviceAccount: true, principal: true, apiKeyHash: true, headers: [{ name: "x-team", label: "team" }], maxValues: 2 },
      }),
    });
    for (const team of TEAMS) {
      const r = await send(s.proxyUrl, {
        authority: "api.openai.com",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json", authorization: `Bearer ${DEFAULT_MOCK_KEY}`, "x-team": team },
        body: [BODY],
      });
      expect(r.status).toBe(200);
    }
    series = await scrape(s.adminUrl);
  }, 60_000);
  afterAll(async () => {
    await s?.close();
    await mock?.close();
  });

  it("labels the caller: service account, SPIFFE ID, API key hash, team; past maxValues the team is 'other'", () => {
    const tokens = series.filter((x) => x.name === "asm_llm_proxy_prompt_tokens");
    expect(tokens.map((x) => x.labels.llmproxy_team).sort()).toEqual(["other", "payments", "search"]);
    for (const t of tokens) {
      expect(t.labels).toMatchObject({
        llmproxy_source_workload: "sleep",
        llmproxy_source_service_account: "sleep",
        llmproxy_source_principal: "spiffe://cluster.local/ns/default/sa/sleep",
        llmproxy_api_key_hash: createHash("sha256").update(DEFAULT_MOCK_KEY).digest("hex").slice(0, 12),
        llmproxy_model: "qwen-turbo",
      });
    }
    const other = tokens.find((x) => x.labels.llmproxy_team === "other")!;
    const one = tokens.find((x) => x.labels.llmproxy_team === "payments")!;
    expect(other.value).toBe(3 * one.value); // three teams folded, none of their tokens lost
  });

  it("counts the folded values per label", () => {
    const folded = series.find((x) => x.name === "asm_llm_proxy_labels_folded" && x.labels.llmproxy_label === "team");
    expect(folded?.value).toBe(3);
  });

  it("never shows the API key itself", async () => {
    const { body } = await get(`${s.adminUrl}/stats/prometheus`);
    expect(body).not.toContain(DEFAULT_MOCK_KEY);
    expect(JSON.stringify(s.accessLogs())).not.toContain(DEFAULT_MOCK_KEY);
  });
});
