// The sidecar's Envoy bootstrap as generated from manifests/ (envoy/bootstrap.ts): what Istio
// would put there, taken from the manifests rather than restated, and accepted by both pinned
// Envoys (`envoy --mode validate`).
import { describe, expect, it } from "vitest";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { failurePolicy, istioRetryPolicy, mergeBootstrap, originatedTls, outboundServices, sidecarBootstrap } from "../envoy/bootstrap";
import { ensureEnvoy } from "../envoy/install";
import { bootstrapStatsTags, repoRoot, wasmPluginConfig, wasmPluginSpec } from "../repo/manifests";
import { ENVOYS } from "./helpers/envoy";

const run = promisify(execFile);

// Generated JSON, walked by path.
type J = any;

const opts = {
  wasmFile: join(repoRoot, "build", "llmproxy.wasm"),
  upstream: { kind: "tls" as const, address: "dashscope.aliyuncs.com", port: 443 },
  proxyPort: 0,
  adminPort: 0,
  accessLogPath: "/dev/stdout",
};

describe("the bootstrap generated from manifests/", () => {
  const b: J = sidecarBootstrap(opts);
  const hcm: J = b.static_resources.listeners[0].filter_chains[0].filters[0].typed_config;
  const wasm: J = hcm.http_filters.find((f: J) => f.typed_config.config?.root_id).typed_config.config;

  it("carries the WasmPlugin: name, root id, configuration as a StringValue, env from HOST, fail policy, V8", () => {
    const spec = wasmPluginSpec() as { pluginName: string; failStrategy: string };
    expect(hcm.http_filters.find((f: J) => f.typed_config.config?.root_id)).toMatchObject({
      name: "extensions.istio.io/trafficextension/default.asm-llm-proxy~istio-translated-wasmplugin",
      typed_config: { config: { name: "default.asm-llm-proxy~istio-translated-wasmplugin" } },
    });
    expect(wasm.root_id).toBe(spec.pluginName);
    expect(wasm.configuration).toEqual({ "@type": "type.googleapis.com/google.protobuf.StringValue", value: wasmPluginConfig() });
    expect(wasm.vm_config.runtime).toBe("envoy.wasm.runtime.v8");
    expect(wasm.vm_config.environment_variables.host_env_keys).toEqual(["DASHSCOPE_API_KEY"]);
    expect(wasm.failure_policy).toBe(failurePolicy(spec.failStrategy));
  });

  it("maps failStrategy as Istio ≥ 1.27 does (FAIL_CLOSE is the WasmPlugin default)", () => {
    expect([failurePolicy("FAIL_OPEN"), failurePolicy("FAIL_CLOSE"), failurePolicy("FAIL_RELOAD"), failurePolicy(undefined)]).toEqual([
      "FAIL_OPEN",
      "FAIL_CLOSED",
      "FAIL_RELOAD",
      "FAIL_CLOSED",
    ]);
  });

  it("has the workload's node metadata and the bootstrap override's stats_tags after Istio's own", () => {
    expect(b.node.metadata).toMatchObject({ WORKLOAD_NAME: "sleep", NAMESPACE: "default" });
    const tags: { tag_name: string }[] = b.stats_config.stats_tags;
    expect(b.stats_config.use_all_default_tags).toBe(false);
    expect(tags.slice(-bootstrapStatsTags().length)).toEqual(bootstrapStatsTags());
  });

  it("routes each ServiceEntry host to its outbound cluster, TLS-originated as the DestinationRule says", () => {
    const [svc] = outboundServices();
    expect(svc).toMatchObject({
      host: "dashscope.aliyuncs.com",
      port: 80,
      targetPort: 443,
      tls: { mode: "SIMPLE", sni: "dashscope.aliyuncs.com", subjectAltNames: ["dashscope.aliyuncs.com"] },
    });
    const vhost = hcm.route_config.virtual_hosts.find((v: J) => v.domains.includes("dashscope.aliyuncs.com"));
    expect(vhost.routes[0].route).toEqual({
      cluster: "outbound|80||dashscope.aliyuncs.com",
      timeout: "0s",
      max_grpc_timeout: "0s",
      retry_policy: istioRetryPolicy(),
    });
    const cluster = b.static_resources.clusters.find((c: J) => c.name === "outbound|80||dashscope.aliyuncs.com");
    expect(cluster.transport_socket.typed_config.sni).toBe("dashscope.aliyuncs.com");
    // the name checked is the DestinationRule's subjectAltNames, not the sni (pilot's cluster_tls.go)
    expect(cluster.transport_socket.typed_config.common_tls_context.validation_context.match_subject_alt_names).toEqual([
      { exact: "dashscope.aliyuncs.com" },
    ]);
    expect(hcm.http_protocol_options.allow_absolute_url).toBe(true);
  });

  it("checks the certificate's name only against subjectAltNames, as pilot does when sni is explicit", () => {
    expect(originatedTls({ mode: "SIMPLE", sni: "a.example" }, "a.example")).toEqual({ sni: "a.example", sans: [] });
    expect(originatedTls({ mode: "SIMPLE", sni: "a.example", subjectAltNames: ["a.example"] }, "a.example")).toEqual({
      sni: "a.example",
      sans: ["a.example"],
    });
    expect(originatedTls({ mode: "DISABLE" }, "a.example")).toBeUndefined();
  });

  it("merges an override as Istio does: objects merge, lists append", () => {
    expect(mergeBootstrap({ a: { x: 1, l: [1] }, k: 1 }, { a: { y: 2, l: [2] }, k: 2 })).toEqual({ a: { x: 1, y: 2, l: [1, 2] }, k: 2 });
  });

  it.each(ENVOYS)("is accepted by Envoy %s", async (version) => {
    const binary = await ensureEnvoy(version);
    const file = join(mkdtempSync(join(tmpdir(), "bootstrap-")), "b.json");
    writeFileSync(file, JSON.stringify(sidecarBootstrap({ ...opts, upstream: { kind: "plain", address: "127.0.0.1", port: 9 } })));
    const { stdout, stderr } = await run(binary, ["--mode", "validate", "-c", file, "--log-level", "error"], {
      env: { ...process.env, DASHSCOPE_API_KEY: "sk-x" },
    });
    expect(`${stdout}${stderr}`).toMatch(/configuration '.*' OK/);
  });
});
