// The seed's own demo, end to end on one machine: its two curl commands (real curl, through the
// local sidecar as a forward proxy, like the sleep pod's sidecar intercepting
// `curl http://dashscope.aliyuncs.com`) give the seed's access-log fields and, on the admin
// listener, exactly the seed's four Prometheus lines.
// (The seed's access-log example shows 55 completion tokens where its metrics show 72 for the
// same request: two different runs. The embedded mock reproduces the metrics' values.)
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { get, scrape, SEED_PROMETHEUS_LINES, seedCurl, startLocal, type LocalSidecar } from "./helpers/local";

describe("the seed's curl commands through the local sidecar", () => {
  let s: LocalSidecar;
  beforeAll(async () => {
    s = await startLocal();
  });
  afterAll(async () => {
    await s?.close();
  });

  it("answer 200 with the model the filter chose, and log the seed's fields", async () => {
    const first = await seedCurl(s.proxy.url, false);
    const second = await seedCurl(s.proxy.url, true);
    expect(first.status).toBe(200);
    expect(second.status).toBe(200);
    expect(JSON.parse(first.body)).toMatchObject({ model: "qwen-1.8b-chat", usage: { prompt_tokens: 3, completion_tokens: 72 } });
    expect(JSON.parse(second.body)).toMatchObject({ model: "qwen-turbo", usage: { prompt_tokens: 11, completion_tokens: 85 } });

    const logs = await s.waitForAccessLogs(2);
    // FILTER_STATE(...:PLAIN) prints the stored bytes as a JSON string (Envoy), the seed's
    // hand-formatted example shows numbers.
    expect(logs[0]).toMatchObject({
      response_code: 200,
      authority_for: "dashscope.aliyuncs.com",
      request_model: "qwen-1.8b-chat",
      request_prompt_tokens: "3",
      request_completion_tokens: "72",
      path: "/compatible-mode/v1/chat/completions",
    });
    expect(logs[1]).toMatchObject({
      response_code: 200,
      authority_for: "dashscope.aliyuncs.com",
      request_model: "qwen-turbo",
      request_prompt_tokens: "11",
      request_completion_tokens: "85",
    });
    expect(typeof logs[0].duration).toBe("number");

    // The mock got the request as Part 1 routes it: path rewritten, key injected, model set.
    const [r1, r2] = s.mock!.requests.slice(-2);
    expect(r1.path).toBe("/compatible-mode/v1/chat/completions");
    expect(r1.headers.authorization).toBe(`Bearer ${s.mock!.options.apiKey}`);
    expect(JSON.parse(r1.body).model).toBe("qwen-1.8b-chat");
    expect(JSON.parse(r2.body).model).toBe("qwen-turbo");
  });

  it("leave exactly the seed's four lines on /stats/prometheus", async () => {
    const { status, body } = await get(`${s.admin.url}/stats/prometheus`);
    expect(status).toBe(200);
    const lines = body.split("\n").filter((l) => l.includes("llmproxy") && !l.startsWith("#"));
    // Only the seed's four counters carry values here (diagnostic series, if any, are other names).
    const seedFamilies = lines.filter((l) => /^asm_llm_proxy_(prompt|completion)_tokens\{/.test(l));
    expect(seedFamilies).toEqual(SEED_PROMETHEUS_LINES);
    expect(body).toContain("# TYPE asm_llm_proxy_prompt_tokens counter\n");
    expect(body).toContain("# TYPE asm_llm_proxy_completion_tokens counter\n");
    // and the same values through the parser the other e2e tests use
    const series = await scrape(s.admin.url);
    expect(series.filter((x) => x.name.startsWith("asm_llm_proxy_")).map((x) => x.line)).toEqual(
      expect.arrayContaining(SEED_PROMETHEUS_LINES),
    );
  });

  it("show istio_requests_total with the model dimension (seed §3)", async () => {
    const { body } = await get(`${s.admin.url}/stats/prometheus`);
    const lines = body.split("\n").filter((l) => l.startsWith("istio_requests_total{"));
    const models = lines.map(
      (l) =>
        /reporter="source",source_workload="sleep",.*destination_service="dashscope\.aliyuncs\.com",.*request_protocol="http",response_code="200",.*model="([^"]+)"\} 1$/.exec(
          l,
        )?.[1],
    );
    expect(models).toEqual(["qwen-1.8b-chat", "qwen-turbo"]);
  });

  it("plain /stats lists the same counters with their tags still in the name", async () => {
    const { body } = await get(`${s.admin.url}/stats?filter=llmproxy`);
    expect(body).toContain(
      "asm_llm_proxy_prompt_tokens|llmproxy_source_workload=sleep|llmproxy_source_workload_namespace=default|llmproxy_destination_service=dashscope.aliyuncs.com|llmproxy_model=qwen-turbo: 11",
    );
  });
});
