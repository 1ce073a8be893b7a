// The seed scenario in real Envoy, at each pinned version, and in the TypeScript host: the
// article's two curl commands through the sidecar configured from manifests/, the four
// Prometheus lines to the digit, the access-log fields, and the three proxies agreeing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MockLlm } from "../local/mock-llm";
import { DEFAULT_MOCK_KEY } from "../local/options";
import { ENVOYS, accessLogsAfter, filterState, llmproxyLines, startProxy, type ProxyUnderTest } from "./helpers/envoy";
import { SEED_PROMETHEUS_LINES, seedCurl } from "./helpers/local";

let mock: MockLlm;
const proxies: ProxyUnderTest[] = [];

beforeAll(async () => {
  mock = await new MockLlm({ apiKey: DEFAULT_MOCK_KEY }).listen(0);
  for (const which of [...ENVOYS, "node"]) {
    proxies.push(await startProxy(which, { upstream: new URL(mock.url), vmEnv: { DASHSCOPE_API_KEY: DEFAULT_MOCK_KEY } }));
  }
});

afterAll(async () => {
  for (const p of proxies) await p.close();
  await mock?.close();
});

describe.each([...ENVOYS, "node"].map((which, i) => ({ which, i })))("the seed's two curl commands, $which", ({ i }) => {
  it("answer 200 and print the seed's access-log fields and Prometheus lines", async () => {
    const p = proxies[i];
    expect((await seedCurl(p.proxyUrl, false)).status).toBe(200);
    expect((await seedCurl(p.proxyUrl, true)).status).toBe(200);
    const logs = await accessLogsAfter(p, 2);
    expect(logs[0]).toMatchObject({
      response_code: 200,
      authority_for: "dashscope.aliyuncs.com",
      request_model: "qwen-1.8b-chat",
      request_prompt_tokens: "3",
      request_completion_tokens: "72",
    });
    expect(logs[1]).toMatchObject({
      response_code: 200,
      authority_for: "dashscope.aliyuncs.com",
      request_model: "qwen-turbo",
      request_prompt_tokens: "11",
      request_completion_tokens: "85",
    });
    expect(logs[0].upstream_cluster).toBe("outbound|80||dashscope.aliyuncs.com");
    const lines = await llmproxyLines(p);
    // The seed's four lines to the digit; the other counters are other names (here the two
    // calls' finish reasons, "stop" for each model).
    expect(lines.filter((l) => /^asm_llm_proxy_(prompt|completion)_tokens\{/.test(l))).toEqual(SEED_PROMETHEUS_LINES);
    expect(lines.filter((l) => !/^asm_llm_proxy_(prompt|completion)_tokens\{/.test(l))).toEqual([
      expect.stringMatching(/^asm_llm_proxy_finish_reasons\{.*llmproxy_model="qwen-1\.8b-chat",llmproxy_finish_reason="stop"\} 1$/),
      expect.stringMatching(/^asm_llm_proxy_finish_reasons\{.*llmproxy_model="qwen-turbo",llmproxy_finish_reason="stop"\} 1$/),
    ]);
  });
});

describe("Envoy and the TypeScript host agree on the seed", () => {
  it("same filter state in the access log, same Prometheus lines", async () => {
    const reference = proxies[0];
    for (const p of proxies.slice(1)) {
      expect(p.accessLogs().map(filterState), p.name).toEqual(reference.accessLogs().map(filterState));
      expect(await llmproxyLines(p), p.name).toEqual(await llmproxyLines(reference));
    }
  });
});
