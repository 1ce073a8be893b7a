// The istiod goldens (tests/fixtures/istiod/<line>/, `npm run istio:render`) against the
// manifests they came from and against the local sidecar's configuration (envoy/bootstrap.ts),
// on every field that changes what a request goes through. Fast: no Go, no Envoy (running the
// goldens in Envoy is tests/istiod-envoy.test.ts).
import { describe, expect, it } from "vitest";
import { sidecarBootstrap } from "../envoy/bootstrap";
import { ISTIO_LINES, LOCAL_ISTIO_LINE, RENDER_COMMAND, golden, manifestsDigest, wasmPluginNames } from "../repo/istiod";
import { loadManifests } from "../repo/manifests";
import { CLUSTER_FILE, DASHSCOPE_CLUSTER, goldenEcdsWasm, goldenHcm, goldenLines, isIstioOnly } from "./helpers/istiod";

type J = any;
const LINES = goldenLines();

const local: J = sidecarBootstrap({
  wasmFile: "/llmproxy.wasm",
  upstream: { kind: "tls", address: "dashscope.aliyuncs.com", port: 443, caFile: "/ca.pem" },
  proxyPort: 0,
  adminPort: 0,
  accessLogPath: "/dev/stdout",
});
const localHcm: J = local.static_resources.listeners
  .find((l: J) => l.name === "0.0.0.0_80")
  .filter_chains.flatMap((fc: J) => fc.filters)
  .find((f: J) => f.name === "envoy.filters.network.http_connection_manager").typed_config;
const localCluster: J = local.static_resources.clusters.find((c: J) => c.name === DASHSCOPE_CLUSTER);
const localVhost: J = localHcm.route_config.virtual_hosts.find((v: J) => v.domains.includes("dashscope.aliyuncs.com"));
const localWasm: J = localHcm.http_filters.find((f: J) => f.typed_config.config?.root_id);

describe("the goldens", () => {
  it("exist for every Istio line the render script knows", () => {
    expect(LINES).toEqual(ISTIO_LINES.map((l) => l.line).sort());
  });

  it.each(LINES)("%s is fresh: rendered from the manifests as they are", (line) => {
    const meta = golden(line, "meta.json");
    const now = manifestsDigest();
    expect(meta.istio.commit).toBe(ISTIO_LINES.find((l) => l.line === line)?.commit);
    expect(
      meta.manifestsSha256,
      `tests/fixtures/istiod/${line} was rendered from other manifests (${meta.manifestFiles.join(", ")}): run ${RENDER_COMMAND} (needs Go)`,
    ).toBe(now.sha256);
    expect(meta.manifestFiles).toEqual(now.files);
  });
});

describe.each(LINES)("istio %s: names", (line) => {
  const names = wasmPluginNames("default", "asm-llm-proxy", line);
  it("the WasmPlugin's ECDS resource, HTTP filter and plugin (the wasm.<plugin>.* stats) are named as this line names them", () => {
    const ecds = goldenEcdsWasm(line);
    expect(ecds.name).toBe(names.filter);
    expect(ecds.typed_config.config.name).toBe(names.plugin);
    expect(goldenHcm(line).http_filters.map((f: J) => f.name)).toContain(names.filter);
    expect(names.plugin).toBe(
      Number(line.split(".")[1]) >= 30 ? "default.asm-llm-proxy~istio-translated-wasmplugin" : "default.asm-llm-proxy",
    );
  });
});

describe.each(LINES)("istio %s against the local sidecar (envoy/bootstrap.ts)", (line) => {
  const hcm = goldenHcm(line);
  const ecds = goldenEcdsWasm(line).typed_config.config;

  it("filter order: the plugin right after istio.metadata_exchange, then grpc_stats, istio.alpn, fault, cors, istio.stats, router; the local sidecar has the same less Istio's own", () => {
    const names = hcm.http_filters.map((f: J) => f.name);
    const plugin = wasmPluginNames("default", "asm-llm-proxy", line).filter;
    expect(names).toEqual([
      "istio.metadata_exchange",
      plugin,
      "envoy.filters.http.grpc_stats",
      "istio.alpn",
      "envoy.filters.http.fault",
      "envoy.filters.http.cors",
      "istio.stats",
      "envoy.filters.http.router",
    ]);
    const upstreamOnly = hcm.http_filters.filter((f: J) => !isIstioOnly(f) && !f.config_discovery);
    const localOthers = localHcm.http_filters.filter((f: J) => f !== localWasm);
    expect(localOthers).toEqual(upstreamOnly); // names and configuration
    expect(localHcm.http_filters[0]).toBe(localWasm);
  });

  it("the Wasm resource: same plugin configuration string, root id, runtime, environment and failure policy", () => {
    const mine = localWasm.typed_config.config;
    for (const k of ["configuration", "root_id", "failure_policy"]) expect(mine[k], k).toEqual(ecds[k]);
    expect(mine.vm_config.runtime).toBe(ecds.vm_config.runtime);
    expect(mine.vm_config.environment_variables.host_env_keys).toEqual(ecds.vm_config.environment_variables.host_env_keys);
    // pilot also passes the pull policy and resource version (consumed and dropped by pilot-agent).
    expect(Object.keys(ecds.vm_config.environment_variables.key_values).sort()).toEqual([
      "ISTIO_META_WASM_IMAGE_PULL_POLICY",
      "ISTIO_META_WASM_PLUGIN_RESOURCE_VERSION",
    ]);
    const pulled = golden(line, "agent-pulled.json")[0].typed_config.config;
    expect(pulled.vm_config.environment_variables).toEqual({ host_env_keys: ["DASHSCOPE_API_KEY"] });
    // Envoy never fetches: pilot sends an oci:// url, the agent a local file.
    expect(ecds.vm_config.code.remote.http_uri.uri).toBe(loadWasmPluginUrl());
    expect(pulled.vm_config.code.local.filename).toMatch(/^<pilot-agent wasm cache>\/.*\.wasm$/);
    if (line === LOCAL_ISTIO_LINE) {
      expect(localWasm.name).toBe(goldenEcdsWasm(line).name);
      expect(mine.name).toBe(ecds.name);
    }
  });

  it("the access log: the mesh provider's JSON format to /dev/stdout", () => {
    expect(hcm.access_log).toHaveLength(1);
    const [al] = hcm.access_log;
    expect(al.typed_config.path).toBe("/dev/stdout");
    expect(localHcm.access_log[0].typed_config.log_format.json_format).toEqual(al.typed_config.log_format.json_format);
  });

  it("HCM settings: stream_idle_timeout 0s and the others pilot sets (tracing aside: no tracer here)", () => {
    for (const k of [
      "stream_idle_timeout",
      "normalize_path",
      "path_with_escaped_slashes_action",
      "proxy_100_continue",
      "use_remote_address",
      "request_id_extension",
      "stat_prefix",
    ])
      expect(localHcm[k], k).toEqual(hcm[k]);
    // pilot's upgrades, then the local sidecar's one addition: CONNECT, which it terminates for
    // clients that use it as their forward proxy (envoy/connect.ts; docs/envoy.md).
    expect(localHcm.upgrade_configs).toEqual([...hcm.upgrade_configs, { upgrade_type: "CONNECT" }]);
    expect(hcm.stream_idle_timeout).toBe("0s");
  });

  it("stats: the same tags (Istio's, then the ConfigMap's) and the same inclusion list", () => {
    const b = golden(line, "bootstrap-merged.json");
    expect(local.stats_config.stats_tags).toEqual(b.stats_config.stats_tags);
    expect(local.stats_config.use_all_default_tags).toBe(b.stats_config.use_all_default_tags);
    expect(local.stats_config.stats_matcher).toEqual(b.stats_config.stats_matcher);
    expect(local.stats_config.histogram_bucket_settings).toEqual(b.stats_config.histogram_bucket_settings);
    expect(b.stats_config.stats_matcher.inclusion_list.patterns).toContainEqual({ prefix: "wasm" }); // keeps wasmcustom.*
  });

  it("the route: no timeout, pilot's retries, port ignored in host matching", () => {
    const route = golden(line, "route-80.json");
    const vhost = route.virtual_hosts.find((v: J) => v.domains.includes("dashscope.aliyuncs.com"));
    const r = vhost.routes[0].route;
    expect(r.timeout).toBe("0s");
    expect(r.retry_policy.num_retries).toBe(2);
    expect(localVhost.routes[0].route).toEqual({
      cluster: r.cluster,
      timeout: r.timeout,
      max_grpc_timeout: r.max_grpc_timeout,
      retry_policy: r.retry_policy,
    });
    expect(localVhost.domains).toEqual(vhost.domains);
    expect(localVhost.include_request_attempt_count).toBe(vhost.include_request_attempt_count);
    expect(localHcm.route_config.ignore_port_in_host_matching).toBe(route.ignore_port_in_host_matching);
    expect(localHcm.route_config.validate_clusters).toBe(route.validate_clusters);
    const any = route.virtual_hosts.find((v: J) => v.name === "allow_any");
    expect(localHcm.route_config.virtual_hosts.find((v: J) => v.name === "allow_any").routes[0].route).toEqual(any.routes[0].route);
  });

  it("the cluster: SNI and the SAN list from the DestinationRule, TLS versions, load balancing, stat name", () => {
    const c = golden(line, CLUSTER_FILE);
    const tls = c.transport_socket.typed_config;
    const mine = localCluster.transport_socket.typed_config;
    expect(mine.sni).toBe(tls.sni);
    expect(mine.common_tls_context.validation_context.match_subject_alt_names).toEqual(
      tls.common_tls_context.combined_validation_context.default_validation_context.match_subject_alt_names,
    );
    expect(tls.common_tls_context.combined_validation_context.validation_context_sds_secret_config.name).toBe("file-root:system");
    expect(mine.common_tls_context.tls_params).toEqual(tls.common_tls_context.tls_params);
    for (const k of ["connect_timeout", "lb_policy", "circuit_breakers", "alt_stat_name", "dns_lookup_family"])
      expect(localCluster[k], k).toEqual(c[k]);
    // The one cluster field that differs by line: 1.31 turns Envoy's panic threshold (50%) off.
    if (line === LOCAL_ISTIO_LINE) expect(localCluster.common_lb_config).toEqual(c.common_lb_config);
    else expect(c.common_lb_config).toEqual({});
    expect(c.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({
      address: "dashscope.aliyuncs.com",
      port_value: 443,
    });
  });
});

function loadWasmPluginUrl(): string {
  const p = loadManifests().find((o) => o.kind === "WasmPlugin") as J;
  return p.spec.url;
}
