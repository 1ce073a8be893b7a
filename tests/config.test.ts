// on_configure: an empty configuration is observe-only; every malformed field is rejected with a
// log line naming it (Envoy then refuses the plugin), and nothing traps.
import { describe, expect, it } from "vitest";
import { configure, sidecar } from "./helpers/sidecar";
import { wasmPluginConfig } from "../repo/manifests";

const provider = {
  name: "dashscope",
  hosts: ["dashscope.aliyuncs.com"],
  path: "/compatible-mode/v1/chat/completions",
  apiKeyEnv: "DASHSCOPE_API_KEY",
  model: "qwen-1.8b-chat",
};

describe("valid configurations", () => {
  it("empty configuration (Istio sends none for an empty pluginConfig)", async () => {
    expect((await configure("")).ok).toBe(true);
  });
  it("empty object", async () => expect((await configure("{}")).ok).toBe(true));
  it("an unknown root id (another WasmPlugin pluginName) falls back to the default root context, no trap", async () => {
    const s = await sidecar({ rootId: "my-llm-stats" });
    expect(s.vm.failed).toBe(false);
    expect(s.logs.join("\n")).toContain("no root context registered for root id 'my-llm-stats'");
  });
  it("the WasmPlugin manifest's pluginConfig", async () => {
    const r = await configure(wasmPluginConfig(), { DASHSCOPE_API_KEY: "sk-x" });
    expect(r.logs.join("\n")).toContain("1 provider(s), 1 route(s), workload sleep.default");
    expect(r.ok).toBe(true);
  });
  it("a missing API key environment variable is a warning, not a failure", async () => {
    const r = await configure({ providers: [provider] });
    expect(r.ok).toBe(true);
    expect(r.logs.join("\n")).toContain("DASHSCOPE_API_KEY is not set");
  });
  it("the API key never appears in a log line", async () => {
    const r = await configure({ providers: [provider], debug: true }, { DASHSCOPE_API_KEY: "sk-secret-value-42" });
    expect(r.ok).toBe(true);
    expect(r.logs.join("\n")).not.toContain("sk-secret-value-42");
  });
});

const invalid: [string, unknown, string][] = [
  ["not JSON", "{providers:", "configuration is not valid JSON"],
  ["not an object", "[]", "configuration: expected an object"],
  ["unknown top-level field", { provider: [] }, "configuration.provider: unknown field"],
  ["providers not an array", { providers: {} }, "providers: expected an array"],
  ["provider not an object", { providers: ["x"] }, "providers[0]: expected an object"],
  ["provider unknown field", { providers: [{ ...provider, apikey: "x" }] }, "providers[0].apikey: unknown field"],
  ["provider without name", { providers: [{ ...provider, name: undefined }] }, "providers[0].name: required"],
  ["provider empty name", { providers: [{ ...provider, name: "" }] }, "providers[0].name: must not be empty"],
  [
    "duplicate provider name",
    { providers: [provider, { ...provider, hosts: ["b.example"] }] },
    "providers[1].name: duplicate provider name",
  ],
  ["hosts missing", { providers: [{ ...provider, hosts: undefined }] }, "providers[0].hosts: required"],
  ["hosts empty", { providers: [{ ...provider, hosts: [] }] }, "providers[0].hosts: must not be empty"],
  [
    "host with port",
    { providers: [{ ...provider, hosts: ["dashscope.aliyuncs.com:443"] }] },
    "providers[0].hosts[0]: expected a lowercase host name without port",
  ],
  ["host not a string", { providers: [{ ...provider, hosts: [1] }] }, "providers[0].hosts[0]: expected a string"],
  [
    "host claimed twice",
    { providers: [provider, { ...provider, name: "b" }] },
    "providers[1].hosts[0]: host 'dashscope.aliyuncs.com' already belongs",
  ],
  [
    "unknown api",
    { providers: [{ ...provider, api: "palm" }] },
    "providers[0].api: expected one of openai, responses, dashscope, dashscope-apps, anthropic, gemini, bedrock-converse, bedrock-invoke, cohere, ollama, tgi, vertex-anthropic, gemini-embed, openai-images, openai-audio, got 'palm'",
  ],
  ["relative path", { providers: [{ ...provider, path: "v1/chat" }] }, "providers[0].path: expected a path starting with '/'"],
  ["apiKeyEnv not a string", { providers: [{ ...provider, apiKeyEnv: 5 }] }, "providers[0].apiKeyEnv: expected a string"],
  [
    "apiKey with a newline",
    { providers: [{ ...provider, apiKeyEnv: undefined, apiKey: "sk\nx" }] },
    "providers[0].apiKey: the API key contains a line break",
  ],
  ["model not a string", { providers: [{ ...provider, model: true }] }, "providers[0].model: expected a string"],
  [
    "includeUsage not a boolean",
    { providers: [{ ...provider, includeUsage: "yes" }] },
    "providers[0].includeUsage: expected true or false",
  ],
  [
    "dropAcceptEncoding not a boolean",
    { providers: [{ ...provider, dropAcceptEncoding: 1 }] },
    "providers[0].dropAcceptEncoding: expected true or false",
  ],
  ["acceptEncoding not a choice", { acceptEncoding: "br" }, "acceptEncoding: expected one of narrow, keep, identity, got 'br'"],
  ["acceptEncoding not a string", { acceptEncoding: false }, "acceptEncoding: expected a string"],
  ["routes not an array", { routes: 1 }, "routes: expected an array"],
  ["route unknown field", { providers: [provider], routes: [{ model: "m", when: {} }] }, "routes[0].when: unknown field"],
  [
    "route without model or provider",
    { providers: [provider], routes: [{ name: "r" }] },
    "routes[0]: a route must set a model or a provider",
  ],
  ["route match not an object", { providers: [provider], routes: [{ model: "m", match: [] }] }, "routes[0].match: expected an object"],
  [
    "route headers not an array",
    { providers: [provider], routes: [{ model: "m", match: { headers: {} } }] },
    "routes[0].match.headers: expected an array",
  ],
  [
    "header without name",
    { providers: [provider], routes: [{ model: "m", match: { headers: [{ exact: "x" }] } }] },
    "routes[0].match.headers[0].name: required",
  ],
  [
    "header with two matchers",
    { providers: [provider], routes: [{ model: "m", match: { headers: [{ name: "a", exact: "x", prefix: "y" }] } }] },
    "routes[0].match.headers[0]: expected exactly one of",
  ],
  [
    "header with no matcher",
    { providers: [provider], routes: [{ model: "m", match: { headers: [{ name: "a" }] } }] },
    "routes[0].match.headers[0]: expected exactly one of",
  ],
  [
    "header regex",
    { providers: [provider], routes: [{ model: "m", match: { headers: [{ name: "a", regex: ".*" }] } }] },
    "routes[0].match.headers[0].regex: regular expressions are not supported",
  ],
  [
    "header present: false",
    { providers: [provider], routes: [{ model: "m", match: { headers: [{ name: "a", present: false }] } }] },
    "routes[0].match.headers[0].present: only 'present: true'",
  ],
  ["unknown route provider", { providers: [provider], routes: [{ provider: "nope" }] }, "routes[0].provider: no provider named 'nope'"],
  [
    "bad model policy",
    { providers: [provider], routes: [{ model: "m", modelPolicy: "always" }] },
    "routes[0].modelPolicy: expected 'override' or 'default'",
  ],
  ["apiPaths entry unknown api", { apiPaths: [{ suffix: "/chat", api: "x" }] }, "apiPaths[0].api: expected one of"],
  [
    "apiPaths entry without matcher",
    { apiPaths: [{ api: "openai" }] },
    "apiPaths[0]: expected exactly one of exact, prefix, suffix, contains",
  ],
  ["maxRewriteBodyBytes zero", { maxRewriteBodyBytes: 0 }, "maxRewriteBodyBytes: expected an integer from 1"],
  ["maxRewriteBodyBytes fraction", { maxRewriteBodyBytes: 1.5 }, "maxRewriteBodyBytes: expected an integer"],
  ["maxRewriteBodyBytes huge", { maxRewriteBodyBytes: 1e12 }, "maxRewriteBodyBytes: expected an integer"],
  ["maxModels negative", { maxModels: -1 }, "maxModels: expected an integer from 1 to 10000, got -1"],
  ["maxModels a string", { maxModels: "100" }, "maxModels: expected an integer from 1 to 10000, got a string"],
  ["maxModels a fraction", { maxModels: 2.5 }, "maxModels: expected an integer from 1 to 10000, got a number with a fraction"],
  ["maxModels null", { maxModels: null }, "maxModels: expected an integer from 1 to 10000, got null"],
  ["maxDestinations string", { maxDestinations: "5" }, "maxDestinations: expected an integer from 1 to 10000, got a string"],
  ["modelAllowList not strings", { modelAllowList: [1] }, "modelAllowList[0]: expected a string"],
  ["debug not a boolean", { debug: "true" }, "debug: expected true or false"],
  ["deep nesting", "[".repeat(100000), "nesting deeper than 32"],
  ["trailing garbage", "{} x", "unexpected data after the document"],
];

describe("invalid configurations are rejected with the field named", () => {
  for (const [name, config, message] of invalid) {
    it(name, async () => {
      const r = await configure(config as string | object, { DASHSCOPE_API_KEY: "sk-x" });
      expect(r.ok).toBe(false);
      expect(r.logs.join("\n")).toContain(message);
    });
  }
});
