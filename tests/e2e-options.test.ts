// The local sidecar's command line (local/options.ts) and the mock's token arithmetic
// (local/mock-llm.ts), in-process: defaults, flags, environment fallbacks, one-line errors.
import { describe, expect, it } from "vitest";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEFAULT_ADMIN_PORT, DEFAULT_MOCK_KEY, DEFAULT_PORT, OptionsError, parseOptions } from "../local/options";
import { countWords, promptTokens, reply } from "../local/mock-llm";
import { requestTarget } from "../local/http-headers";
import { repoRoot, wasmPluginConfig } from "../repo/manifests";

describe("local sidecar options", () => {
  it("defaults: proxy 10000, admin 15090, the mock upstream, the manifests' configuration", () => {
    const o = parseOptions([], {}, "/repo");
    expect(o).toMatchObject({
      port: DEFAULT_PORT,
      adminPort: DEFAULT_ADMIN_PORT,
      upstream: "mock",
      mockKey: DEFAULT_MOCK_KEY,
      logLevel: "info",
      wasmFile: "/repo/build/llmproxy.wasm",
    });
    expect(DEFAULT_PORT).toBe(10000);
    expect(DEFAULT_ADMIN_PORT).toBe(15090);
    expect(o.pluginConfig).toBeUndefined();
    expect(o.workload).toBeUndefined();
  });

  it("flags (both --flag value and --flag=value) and environment fallbacks", () => {
    const o = parseOptions(
      [
        "--port=0",
        "--admin-port",
        "9901",
        "--upstream",
        "https://dashscope.aliyuncs.com",
        "--workload",
        "api",
        "--namespace=prod",
        "--env",
        "A=b=c",
        "--log-level",
        "warn",
        "--mock-delay-ms",
        "0",
      ],
      { LLMPROXY_PORT: "1234" },
    );
    expect(o.port).toBe(0);
    expect(o.adminPort).toBe(9901);
    expect(o.upstream).toBeInstanceOf(URL);
    expect((o.upstream as URL).origin).toBe("https://dashscope.aliyuncs.com");
    expect(o).toMatchObject({ workload: "api", namespace: "prod", vmEnv: { A: "b=c" }, logLevel: "warn", mockDelayMs: 0 });
    const e = parseOptions([], { LLMPROXY_PORT: "1234", LLMPROXY_ADMIN_PORT: "4321", LLMPROXY_UPSTREAM: "http://127.0.0.1:9" });
    expect([e.port, e.adminPort, (e.upstream as URL).port]).toEqual([1234, 4321, "9"]);
  });

  it("--config reads a JSON pluginConfig object", () => {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-opt-"));
    writeFileSync(join(dir, "c.json"), '{ "providers": [] }');
    writeFileSync(join(dir, "list.json"), "[]");
    writeFileSync(join(dir, "bad.json"), "{ providers");
    expect(parseOptions(["--config", join(dir, "c.json")], {}).pluginConfig).toBe('{"providers":[]}');
    expect(() => parseOptions(["--config", join(dir, "list.json")], {})).toThrow(/must hold a JSON or YAML object/);
    expect(() => parseOptions(["--config", join(dir, "bad.json")], {})).toThrow(/is not valid JSON/);
    expect(() => parseOptions(["--config", join(dir, "missing.json")], {})).toThrow(/cannot read .*ENOENT/);
  });

  it("--config reads YAML, and a WasmPlugin manifest's spec.pluginConfig (the docs show YAML)", () => {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-opt-"));
    writeFileSync(join(dir, "c.yaml"), "# the pluginConfig\nmaxModels: 7\nmodelAllowList: [a, b]\n");
    expect(JSON.parse(parseOptions(["--config", join(dir, "c.yaml")], {}).pluginConfig!)).toEqual({
      maxModels: 7,
      modelAllowList: ["a", "b"],
    });
    // The repository's own WasmPlugin gives exactly what the default (manifests) gives.
    expect(JSON.parse(parseOptions(["--config", join(repoRoot, "manifests", "wasmplugin.yaml")], {}).pluginConfig!)).toEqual(
      JSON.parse(wasmPluginConfig()),
    );
    expect(JSON.parse(wasmPluginConfig()).providers.length).toBeGreaterThan(0);
    // The observe-only example: a WasmPlugin with an empty pluginConfig.
    const observe = parseOptions(["--config", join(repoRoot, "manifests", "examples", "wasmplugin-observe-only.yaml")], {});
    expect(observe.pluginConfig).toBe("{}");
    writeFileSync(join(dir, "two.yaml"), "kind: WasmPlugin\nspec: {pluginConfig: {maxModels: 1}}\n---\nkind: WasmPlugin\nspec: {}\n");
    expect(() => parseOptions(["--config", join(dir, "two.yaml")], {})).toThrow(/holds 2 WasmPlugins/);
    writeFileSync(join(dir, "bad.yaml"), "a: [1, 2\n");
    expect(() => parseOptions(["--config", join(dir, "bad.yaml")], {})).toThrow(/is not valid JSON or YAML/);
    writeFileSync(join(dir, "scalar.yaml"), "just text\n");
    expect(() => parseOptions(["--config", join(dir, "scalar.yaml")], {})).toThrow(/must hold a JSON or YAML object/);
  });

  it("--envoy-version given by name is remembered (no fallback to the Node host); -h is --help", () => {
    expect(parseOptions([], {}).envoyVersionGiven).toBe(false);
    expect(parseOptions(["--envoy-version", "1.36.4"], {})).toMatchObject({ envoyVersion: "1.36.4", envoyVersionGiven: true });
    expect(parseOptions(["-h"], {}).help).toBe(true);
    expect(parseOptions(["--env", "A=1", "--env", "B=2"], {}).vmEnv).toEqual({ A: "1", B: "2" });
  });

  it.each([
    [["--port", "70000"], /--port: expected a port number/],
    [["--port"], /--port: missing value/],
    [["--upstream", "ftp://x"], /expected an http:\/\/ or https:\/\/ URL/],
    [["--upstream", "https://dashscope.aliyuncs.com/compatible-mode/v1"], /origin only/],
    [["--upstream", "not a url"], /expected 'mock' or an http\(s\) URL/],
    [["--env", "NOVALUE"], /expected NAME=VALUE/],
    [["--log-level", "loud"], /--log-level: expected one of/],
    [["--bogus"], /unknown option '--bogus'/],
    [["stray"], /unexpected argument 'stray'/],
    [["--envoy-version", "1.38.3"], /built without Wasm/],
    [["--help=yes"], /--help/],
  ])("rejects %j", (argv, message) => {
    expect(() => parseOptions(argv as string[], {})).toThrow(OptionsError);
    expect(() => parseOptions(argv as string[], {})).toThrow(message);
  });
});

describe("request targets (forward proxy vs Host header)", () => {
  it("absolute-form keeps the authority as written, origin-form takes the Host header", () => {
    expect(requestTarget("http://dashscope.aliyuncs.com", undefined)).toEqual({
      authority: "dashscope.aliyuncs.com",
      path: "/",
      scheme: "http",
    });
    expect(requestTarget("http://dashscope.aliyuncs.com:8080/v1/x?y=1", "ignored")).toEqual({
      authority: "dashscope.aliyuncs.com:8080",
      path: "/v1/x?y=1",
      scheme: "http",
    });
    expect(requestTarget("http://h?q", undefined)).toEqual({ authority: "h", path: "/?q", scheme: "http" });
    expect(requestTarget("/compatible-mode/v1/chat/completions", "dashscope.aliyuncs.com")).toEqual({
      authority: "dashscope.aliyuncs.com",
      path: "/compatible-mode/v1/chat/completions",
      scheme: "http",
    });
    expect(requestTarget("HTTPS://x/", undefined)?.scheme).toBe("https");
    expect(requestTarget("bogus", "h")).toBeUndefined();
  });
});

describe("mock token arithmetic", () => {
  it("reproduces the seed's values and varies with the input", () => {
    const seed = "Please introduce yourself";
    expect(promptTokens("qwen-1.8b-chat", seed)).toBe(3);
    expect(promptTokens("qwen-turbo", seed)).toBe(11);
    expect(reply("qwen-1.8b-chat", seed).words).toHaveLength(72);
    expect(reply("qwen-turbo", seed).words).toHaveLength(85);
    expect(reply("qwen-turbo", "Please introduce yourself!").words.length).not.toBe(85);
    expect(countWords("  a  b\n c\t")).toBe(3);
    expect(reply("qwen-turbo", seed, 5)).toMatchObject({ finishReason: "length" });
    expect(reply("qwen-turbo", seed, 5).words).toHaveLength(5);
  });
});
