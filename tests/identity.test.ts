// Identity labels (config `identity`), the inbound direction and the OpenTelemetry GenAI
// families (config `metricNames`), through the test host with the bootstrap ConfigMap's
// stats_tags: what each label shows, that the API key only ever appears as a SHA-256 prefix,
// that every label is bounded (folded into "other", counted), that a label value cannot forge
// another label, and that a bad `identity` section is refused with its field named.
import { createHash } from "node:crypto";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { configure, sidecar, type Sidecar } from "./helpers/sidecar";
import { findManifest, wasmPluginConfig } from "../repo/manifests";

const usage = { prompt_tokens: 7, completion_tokens: 5 };

function call(s: Sidecar, headers: [string, string][] = [], info?: Record<string, unknown>, authority = "api.openai.com") {
  return s.call({
    request: {
      path: "/v1/chat/completions",
      authority,
      headers: [["content-type", "application/json"], ...headers],
      body: JSON.stringify({ model: "gpt-4o", messages: [] }),
    },
    response: { status: 200, headers: [["content-type", "application/json"]], body: JSON.stringify({ model: "gpt-4o-2024", usage }) },
    info,
  });
}

/** The labels of each prompt-token series. */
function promptSeries(s: Sidecar): Record<string, string>[] {
  return s.prometheus(/^asm_llm_proxy_prompt_tokens\{/).map(labelsOf);
}

function labelsOf(line: string): Record<string, string> {
  const body = /\{(.*)\}/.exec(line)![1];
  return Object.fromEntries([...body.matchAll(/([a-z_]+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
}

const sha12 = (key: string) => createHash("sha256").update(key).digest("hex").slice(0, 12);

describe("identity labels, outbound", () => {
  it("off: the four seed labels only", async () => {
    const s = await sidecar({ pluginConfig: {}, nodeMetadata: { SERVICE_ACCOUNT: "sleep" } });
    call(s, [["authorization", "Bearer sk-a"]]);
    expect(Object.keys(promptSeries(s)[0])).toEqual([
      "llmproxy_source_workload",
      "llmproxy_source_workload_namespace",
      "llmproxy_destination_service",
      "llmproxy_model",
    ]);
  });

  it("service account and SPIFFE principal from node metadata and the trust domain, after the seed's four", async () => {
    const s = await sidecar({
      pluginConfig: { identity: { serviceAccount: true, principal: true, trustDomain: "corp.example" } },
      workload: "chatbot",
      namespace: "apps",
      nodeMetadata: { SERVICE_ACCOUNT: "chatbot-sa" },
    });
    call(s);
    const [labels] = promptSeries(s);
    expect(labels).toEqual({
      llmproxy_source_workload: "chatbot",
      llmproxy_source_workload_namespace: "apps",
      llmproxy_destination_service: "api.openai.com",
      llmproxy_model: "gpt-4o",
      llmproxy_source_service_account: "chatbot-sa",
      llmproxy_source_principal: "spiffe://corp.example/ns/apps/sa/chatbot-sa",
    });
  });

  it("no SERVICE_ACCOUNT in node metadata: both are unknown", async () => {
    const s = await sidecar({ pluginConfig: { identity: { serviceAccount: true, principal: true } } });
    call(s);
    expect(promptSeries(s)[0]).toMatchObject({ llmproxy_source_service_account: "unknown", llmproxy_source_principal: "unknown" });
  });

  it("the API key as a SHA-256 prefix from each key header; never the key itself", async () => {
    const s = await sidecar({ pluginConfig: { identity: { apiKeyHash: true } } });
    const keys: [string, string, string][] = [
      ["authorization", "Bearer sk-proj-AAAA1111", "sk-proj-AAAA1111"],
      ["x-api-key", "sk-ant-BBBB2222", "sk-ant-BBBB2222"],
      ["api-key", "azure-CCCC3333", "azure-CCCC3333"],
      ["x-goog-api-key", "AIzaDDDD4444", "AIzaDDDD4444"],
    ];
    const logs: string[] = [];
    for (const [h, v] of keys) logs.push(JSON.stringify(call(s, [[h, v]]).accessLog));
    call(s, [["authorization", "Basic dXNlcjpwYXNz"]]); // not a Bearer token: no key
    const hashes = promptSeries(s).map((l) => l.llmproxy_api_key_hash);
    expect(hashes.sort()).toEqual([...keys.map(([, , k]) => sha12(k)), "unknown"].sort());
    const text = s.prometheus(/./).join("\n") + logs.join("\n") + s.logs.join("\n");
    for (const [, , k] of keys) expect(text).not.toContain(k);
  });

  it("SHA-256 across block boundaries: keys of 1 to 200 bytes, multi-byte UTF-8 included", async () => {
    const s = await sidecar({ pluginConfig: { identity: { apiKeyHash: true, maxValues: 1000 } } });
    // 55 bytes is the most one block holds with the padding; 56..64 spill into a second block.
    const keys = [1, 54, 55, 56, 57, 63, 64, 65, 119, 120, 128, 200].flatMap((n) => ["k".repeat(n), `${"k".repeat(n - 1)}é`]);
    for (const k of keys) call(s, [["x-api-key", k]]);
    expect(
      promptSeries(s)
        .map((l) => l.llmproxy_api_key_hash)
        .sort(),
    ).toEqual(keys.map(sha12).sort());
  });

  it("any header value: one label, the others intact, parseable text (property)", async () => {
    const s = await sidecar({ pluginConfig: { identity: { headers: [{ name: "x-team", label: "team" }], maxValues: 10000 } } });
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (value) => {
        // what an HTTP header can carry: no NUL, CR, LF; no surrounding blanks (Envoy trims them)
        const v = value.replace(/[\0\r\n]/g, "").trim();
        const before = s.prometheus(/^asm_llm_proxy_prompt_tokens\{/).length;
        call(s, v === "" ? [] : [["x-team", v]]);
        const lines = s.prometheus(/^asm_llm_proxy_prompt_tokens\{/);
        expect(lines.length - before).toBeLessThanOrEqual(1);
        for (const l of lines) {
          expect(l).toMatch(/^asm_llm_proxy_prompt_tokens\{[^\n]*\} \d+$/);
          const labels = labelsOf(l);
          expect(Object.keys(labels)).toEqual([
            "llmproxy_source_workload",
            "llmproxy_source_workload_namespace",
            "llmproxy_destination_service",
            "llmproxy_model",
            "llmproxy_team",
          ]);
          expect(labels.llmproxy_team).toMatch(/^[A-Za-z0-9._:\/@+-]{1,96}$/);
          expect(labels.llmproxy_model).toBe("gpt-4o");
        }
      }),
      { numRuns: 300 },
    );
  });

  it("hashes the caller's key, not the provider key the filter injects", async () => {
    const s = await sidecar({
      pluginConfig: { ...JSON.parse(wasmPluginConfig()), identity: { apiKeyHash: true } },
      env: { DASHSCOPE_API_KEY: "sk-injected" },
    });
    const r = s.call({
      request: {
        path: "/",
        authority: "dashscope.aliyuncs.com",
        headers: [
          ["content-type", "application/json"],
          ["authorization", "Bearer sk-team-7"],
        ],
        body: "{}",
      },
      response: { status: 200, headers: [["content-type", "application/json"]], body: JSON.stringify({ model: "qwen-1.8b-chat", usage }) },
    });
    expect(new Map(r.upstreamRequest!.headers).get("authorization")).toBe("Bearer sk-injected");
    expect(promptSeries(s)[0].llmproxy_api_key_hash).toBe(sha12("sk-team-7"));
  });

  it("header labels: the value sanitised, an absent header unknown; a value cannot forge a label", async () => {
    const s = await sidecar({ pluginConfig: { identity: { headers: [{ name: "X-Team", label: "team" }] } } });
    call(s, [["x-team", "payments"]]);
    call(s);
    call(s, [["x-team", 'evil|llmproxy_model=forged"}']]);
    const teams = promptSeries(s).map((l) => l.llmproxy_team);
    expect(teams.sort()).toEqual(["evil_llmproxy_model_forged__", "payments", "unknown"]);
    for (const l of promptSeries(s)) expect(l.llmproxy_model).toBe("gpt-4o");
  });

  it("each label is bounded by maxValues: the rest fold into 'other', counted per label", async () => {
    const s = await sidecar({
      pluginConfig: { identity: { maxValues: 3, apiKeyHash: true, headers: [{ name: "x-user", label: "team" }] } },
    });
    for (let i = 0; i < 10; i++)
      call(s, [
        ["x-user", `u${i}`],
        ["x-api-key", `k${i % 2}`],
      ]);
    const users = new Set(promptSeries(s).map((l) => l.llmproxy_team));
    expect([...users].sort()).toEqual(["other", "u0", "u1", "u2"]);
    expect(new Set(promptSeries(s).map((l) => l.llmproxy_api_key_hash)).size).toBe(2);
    expect(s.stats.counterValue("asm_llm_proxy_labels_folded|llmproxy_label=team")).toBe(7);
    expect(s.stats.counterValue("asm_llm_proxy_labels_folded|llmproxy_label=api_key_hash")).toBeUndefined(); // 2 keys, within the bound
    const total = s.prometheus(/^asm_llm_proxy_prompt_tokens\{/).reduce((n, l) => n + Number(l.split(" ").at(-1)), 0);
    expect(total).toBe(70); // nothing lost by folding
  });
});

describe("identity labels stay bounded in memory", () => {
  it("20,000 callers with distinct teams, keys and peers: labels folded, linear memory flat after the first half", async () => {
    const s = await sidecar({
      pluginConfig: {
        direction: "inbound",
        metricNames: "both",
        identity: { serviceAccount: true, principal: true, apiKeyHash: true, headers: [{ name: "x-team", label: "team" }], maxValues: 20 },
      },
      workload: "vllm",
      namespace: "models",
    });
    const N = 20_000;
    let half = 0;
    for (let i = 0; i < N; i++) {
      if (i === N / 2) half = s.vm.memoryBytes();
      call(
        s,
        [
          ["x-team", `team-${i}`],
          ["authorization", `Bearer sk-${i}`],
        ],
        { uriSanPeerCertificate: `spiffe://cluster.local/ns/ns-${i}/sa/sa-${i}`, mtls: true },
      );
    }
    expect(s.vm.memoryBytes() - half).toBe(0);
    expect(promptSeries(s).length).toBeLessThanOrEqual(21);
    for (const label of ["team", "api_key_hash", "source_principal", "source_service_account", "source_workload_namespace"])
      expect(s.stats.counterValue(`asm_llm_proxy_labels_folded|llmproxy_label=${label}`), label).toBe(N - 20);
  }, 120_000);
});

describe("inbound (a model server's sidecar)", () => {
  const SPIFFE = "spiffe://cluster.local/ns/apps/sa/chatbot-sa";

  for (const [how, opts] of [
    ["direction: inbound", { config: { direction: "inbound" }, listenerDirection: undefined }],
    ["direction: auto and Envoy's listener_direction INBOUND", { config: {}, listenerDirection: 1 }],
  ] as const) {
    it(`${how}: the caller from its certificate, the destination the server itself`, async () => {
      const s = await sidecar({
        pluginConfig: { ...opts.config, identity: { serviceAccount: true, principal: true } },
        workload: "vllm",
        namespace: "models",
        nodeMetadata: { SERVICE_ACCOUNT: "vllm" },
        listenerDirection: opts.listenerDirection,
      });
      call(s, [], { uriSanPeerCertificate: SPIFFE, mtls: true }, "vllm.models.svc.cluster.local:8000");
      expect(promptSeries(s)).toEqual([
        {
          llmproxy_source_workload: "unknown",
          llmproxy_source_workload_namespace: "apps",
          llmproxy_destination_service: "vllm.models",
          llmproxy_model: "gpt-4o",
          llmproxy_source_service_account: "chatbot-sa",
          llmproxy_source_principal: SPIFFE,
        },
      ]);
    });
  }

  it("Istio's peer metadata (filter_state downstream_peer) names the calling workload", async () => {
    const s = await sidecar({
      pluginConfig: { direction: "inbound" },
      workload: "vllm",
      namespace: "models",
      extraProperties: { "filter_state.downstream_peer.workload": "chatbot", "filter_state.downstream_peer.namespace": "apps" },
    });
    call(s, [], { uriSanPeerCertificate: SPIFFE, mtls: true });
    expect(promptSeries(s)[0]).toMatchObject({
      llmproxy_source_workload: "chatbot",
      llmproxy_source_workload_namespace: "apps",
      llmproxy_destination_service: "vllm.models",
    });
  });

  for (const [form, serialized] of [
    ["Istio's baggage", "cluster=Kubernetes,namespace=apps,workload=chatbot,service=chatbot,revision=v1,type=deployment,name=chatbot-5f6d"],
    ["older releases' k8s.* keys", "k8s.cluster.name=Kubernetes,k8s.namespace.name=apps,k8s.deployment.name=chatbot,service.name=chatbot"],
  ] as const) {
    it(`the peer serialized (${form}) when Envoy gives no field access`, async () => {
      const s = await sidecar({
        pluginConfig: { direction: "inbound" },
        workload: "vllm",
        namespace: "models",
        extraProperties: { "filter_state.downstream_peer": serialized },
      });
      call(s, [], { uriSanPeerCertificate: "spiffe://cluster.local/ns/other/sa/x", mtls: true });
      expect(promptSeries(s)[0]).toMatchObject({ llmproxy_source_workload: "chatbot", llmproxy_source_workload_namespace: "apps" });
    });
  }

  it("without mTLS the caller is unknown; listener_direction OUTBOUND keeps the seed's labels", async () => {
    const inbound = await sidecar({
      pluginConfig: { direction: "inbound", identity: { principal: true } },
      workload: "vllm",
      namespace: "models",
    });
    call(inbound);
    expect(promptSeries(inbound)[0]).toMatchObject({
      llmproxy_source_workload: "unknown",
      llmproxy_source_workload_namespace: "unknown",
      llmproxy_source_principal: "unknown",
    });
    const outbound = await sidecar({ pluginConfig: {}, listenerDirection: 2 });
    call(outbound, [], { uriSanPeerCertificate: SPIFFE });
    expect(promptSeries(outbound)[0]).toMatchObject({ llmproxy_source_workload: "sleep", llmproxy_destination_service: "api.openai.com" });
  });

  it("the server-side example manifest's pluginConfig is accepted", async () => {
    const wp = findManifest("WasmPlugin", "asm-llm-proxy-server") as unknown as { spec: { pluginConfig: object } };
    const r = await configure(wp.spec.pluginConfig);
    expect(r.ok, r.logs.join("\n")).toBe(true);
  });
});

describe("metricNames", () => {
  it("otel: the GenAI families with attribute-named tags, no asm_llm_proxy_* series", async () => {
    const s = await sidecar({ pluginConfig: { metricNames: "otel" } });
    call(s);
    expect(s.prometheus(/^asm_llm_proxy_(prompt|completion)_tokens/)).toEqual([]);
    const usageLines = s.prometheus(/^gen_ai_client_token_usage_sum\{/).map((l) => [labelsOf(l), Number(l.split(" ").at(-1))] as const);
    expect(usageLines.map(([l, v]) => [l.gen_ai_token_type, v]).sort()).toEqual([
      ["input", 7],
      ["output", 5],
    ]);
    expect(usageLines[0][0]).toMatchObject({
      gen_ai_operation_name: "chat",
      gen_ai_provider_name: "openai",
      gen_ai_request_model: "gpt-4o",
      gen_ai_response_model: "gpt-4o-2024",
      server_address: "api.openai.com",
      llmproxy_source_workload: "sleep",
    });
    expect(s.prometheus(/^gen_ai_client_operation_duration_milliseconds_count\{/)).toHaveLength(1);
  });

  it("both: each family once; inbound names the duration gen_ai_server_request_duration", async () => {
    const s = await sidecar({ pluginConfig: { metricNames: "both", direction: "inbound" }, workload: "vllm", namespace: "models" });
    call(s);
    expect(s.prometheus(/^asm_llm_proxy_prompt_tokens\{/)).toHaveLength(1);
    expect(s.prometheus(/^gen_ai_client_token_usage_count\{/)).toHaveLength(2);
    expect(s.prometheus(/^gen_ai_server_request_duration_milliseconds_count\{/)).toHaveLength(1);
    expect(s.prometheus(/^gen_ai_client_operation_duration/)).toEqual([]);
  });
});

describe("identity configuration is validated, the field named", () => {
  const cases: [string, object, RegExp][] = [
    ["unknown field", { identity: { serviceAcount: true } }, /identity\.serviceAcount: unknown field/],
    ["not an object", { identity: true }, /identity: expected an object/],
    ["bool", { identity: { principal: "yes" } }, /identity\.principal: expected true or false/],
    ["trust domain", { identity: { trustDomain: "Cluster/Local" } }, /identity\.trustDomain/],
    ["maxValues", { identity: { maxValues: 0 } }, /identity\.maxValues: expected an integer from 1 to 10000/],
    ["header label", { identity: { headers: [{ name: "x-team", label: "Team" }] } }, /identity\.headers\[0\]\.label/],
    [
      "reserved label",
      { identity: { headers: [{ name: "x-m", label: "model" }] } },
      /identity\.headers\[0\]\.label: 'model' is a label the filter sets itself/,
    ],
    ["pseudo-header", { identity: { headers: [{ name: ":path", label: "p" }] } }, /identity\.headers\[0\]\.name/],
    [
      "duplicate label",
      {
        identity: {
          headers: [
            { name: "a", label: "x" },
            { name: "b", label: "x" },
          ],
        },
      },
      /identity\.headers\[1\]\.label: label 'x' is already used/,
    ],
    [
      "duplicate header",
      {
        identity: {
          headers: [
            { name: "a", label: "x" },
            { name: "A", label: "y" },
          ],
        },
      },
      /identity\.headers\[1\]\.name/,
    ],
    [
      "too many headers",
      { identity: { headers: Array.from({ length: 9 }, (_, i) => ({ name: `h${i}`, label: `l${i}` })) } },
      /identity\.headers: at most 8/,
    ],
    ["direction", { direction: "in" }, /direction: expected 'auto', 'outbound' or 'inbound'/],
    ["metricNames", { metricNames: "prometheus" }, /metricNames: expected 'asm', 'otel' or 'both'/],
  ];
  it.each(cases)("%s", async (_, config, message) => {
    const r = await configure(config);
    expect(r.ok).toBe(false);
    expect(r.logs.join("\n")).toMatch(message);
  });
});
