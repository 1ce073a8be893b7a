// Builds the Envoy bootstrap of the `sleep` workload's sidecar from manifests/, the way Istio
// would build it (pilot's xDS for the outbound listener, the WasmPlugin, the ServiceEntry and
// DestinationRule; the injector's bootstrap with the workload's node metadata; the
// `sidecar.istio.io/bootstrapOverride` ConfigMap merged in). Generated, never hand-copied, so
// the configuration the tests run follows the manifests. What Istio adds that upstream Envoy
// cannot run (its stats filter behind istio_requests_total, pilot-agent, mTLS) is left out.
import { existsSync } from "node:fs";
import {
  accessLogFormat,
  customBootstrap,
  demoWorkload,
  findManifest,
  loadManifests,
  wasmPluginConfig,
  wasmPluginEnv,
  wasmPluginRootId,
  wasmPluginSpec,
  type K8sObject,
} from "../repo/manifests";
import { ISTIO_DEFAULT_TAGS } from "../host/envoy/tags";
import { withConnectTunnels } from "./connect";
import { LOCAL_ISTIO_LINE, wasmPluginNames } from "../repo/istiod";

type Json = Record<string, unknown>;

/** Where the sidecar's outbound traffic goes. */
export type Upstream =
  /** Plain HTTP to a local address (the embedded mock LLM). */
  | { kind: "plain"; address: string; port: number }
  /** The provider itself over TLS, as the DestinationRule's `tls.mode: SIMPLE` originates it. */
  | { kind: "tls"; address: string; port: number; caFile?: string };

export type FailStrategy = "FAIL_OPEN" | "FAIL_CLOSE" | "FAIL_RELOAD";

export interface SidecarBootstrapOptions {
  /** The filter module (Istio's agent hands Envoy a local file after pulling the image). */
  wasmFile: string;
  /** Or fetched by Envoy itself (`vm_config.code.remote`, the non-Istio path): URL + sha256. */
  wasmRemote?: { url: string; sha256: string };
  upstream: Upstream;
  /** Outbound HTTP listener on 127.0.0.1 (0 = any free port). */
  proxyPort: number;
  /** Admin listener on 127.0.0.1 serving /stats/prometheus (Istio's :15090). */
  adminPort: number;
  /** Access-log file (the mesh's JSON format); "/dev/stdout" for a terminal. */
  accessLogPath: string;
  workload?: string;
  namespace?: string;
  /** Overrides of the WasmPlugin, for tests (a different config, module or fail strategy). */
  pluginConfig?: string;
  rootId?: string;
  failStrategy?: FailStrategy;
  /** INLINE vmConfig.env additions (tests). */
  vmEnv?: Record<string, string>;
  /** The listener's per_connection_buffer_limit_bytes (Envoy's default 1 MiB). */
  bufferLimitBytes?: number;
  /** The manifests folder (default manifests/). */
  manifestsDir?: string;
  /** stats_flush_interval (Envoy's default 5 s): histogram samples show in the admin output
   *  only after a flush, so tests that read them shorten it. */
  statsFlushMs?: number;
  /** More stat name suffixes to export, as a pod's ProxyConfig `proxyStatsMatcher.
   *  inclusionSuffixes` adds them to Istio's list (tests that read Envoy's own stats). */
  statsInclusionSuffixes?: string[];
}

const PLUGIN_NAME = "asm-llm-proxy";
const SYSTEM_CA_BUNDLES = ["/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/cert.pem"];

/** Istio's failStrategy → Envoy's PluginConfig.failure_policy (pilot/pkg/model/extensions.go;
 * FAIL_RELOAD from Istio 1.27, earlier unmapped and so failing closed; FAIL_CLOSE is the
 * WasmPlugin default). */
export function failurePolicy(strategy: string | undefined): string {
  if (strategy === "FAIL_OPEN") return "FAIL_OPEN";
  if (strategy === "FAIL_RELOAD") return "FAIL_RELOAD";
  return "FAIL_CLOSED";
}

/** Istio's name for an outbound cluster: `outbound|<port>|<subset>|<host>`. */
export function outboundCluster(host: string, port: number): string {
  return `outbound|${port}||${host}`;
}

interface ServicePort {
  number: number;
  protocol?: string;
  targetPort?: number;
  name?: string;
}
interface ServiceEntrySpec {
  hosts: string[];
  ports?: ServicePort[];
}
interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: { tls?: TlsSettings; portLevelSettings?: { port?: { number?: number }; tls?: TlsSettings }[] };
}
interface TlsSettings {
  mode?: string;
  sni?: string;
  subjectAltNames?: string[];
}

/** The HTTP services the sidecar reaches: every ServiceEntry host's HTTP ports, with the
 * DestinationRule TLS settings that apply to each. */
export function outboundServices(dir = "manifests"): { host: string; port: number; targetPort: number; tls?: TlsSettings }[] {
  const rules = loadManifests(dir).filter((o) => o.kind === "DestinationRule") as (K8sObject & { spec: DestinationRuleSpec })[];
  const out: { host: string; port: number; targetPort: number; tls?: TlsSettings }[] = [];
  for (const se of loadManifests(dir).filter((o) => o.kind === "ServiceEntry") as (K8sObject & { spec: ServiceEntrySpec })[]) {
    for (const host of se.spec.hosts) {
      for (const p of se.spec.ports ?? []) {
        if ((p.protocol ?? "").toUpperCase() !== "HTTP") continue; // the filter only sees plain HTTP
        const rule = rules.find((r) => r.spec.host === host)?.spec.trafficPolicy;
        const tls = rule?.portLevelSettings?.find((s) => s.port?.number === p.number)?.tls ?? rule?.tls;
        out.push({ host, port: p.number, targetPort: p.targetPort ?? p.number, tls });
      }
    }
  }
  return out;
}

/** Protobuf JSON merge as Istio applies the bootstrap override: objects merge, lists append. */
export function mergeBootstrap(base: Json, override: Json): Json {
  const out: Json = { ...base };
  for (const [k, v] of Object.entries(override)) {
    const b = out[k];
    if (Array.isArray(b) && Array.isArray(v)) out[k] = [...b, ...v];
    else if (b && v && typeof b === "object" && typeof v === "object" && !Array.isArray(b) && !Array.isArray(v))
      out[k] = mergeBootstrap(b as Json, v as Json);
    else out[k] = v;
  }
  return out;
}

function socketAddress(address: string, port: number): Json {
  return { socket_address: { address, port_value: port } };
}

function caBundle(caFile?: string): string {
  if (caFile) return caFile;
  const found = SYSTEM_CA_BUNDLES.find((f) => existsSync(f));
  if (!found) throw new Error(`no system CA bundle found (${SYSTEM_CA_BUNDLES.join(", ")}): pass --upstream-ca`);
  return found;
}

const isIp = (a: string) => /^\d+\.\d+\.\d+\.\d+$/.test(a) || a.includes(":");

/** Upstream TLS as pilot renders a DestinationRule's SIMPLE tls (cluster_tls.go,
 * constructUpstreamTLS): `sni` as given, and the certificate's name checked against
 * `subjectAltNames` only: with an explicit `sni` and no `subjectAltNames` pilot checks no name. */
export function originatedTls(tls: TlsSettings | undefined, host: string): { sni: string; sans: string[] } | undefined {
  if (tls?.mode !== "SIMPLE") return undefined;
  return { sni: tls.sni ?? host, sans: tls.subjectAltNames ?? [] };
}

function cluster(name: string, upstream: Upstream, tls: { sni: string; sans: string[] } | undefined): Json {
  const c: Json = {
    name,
    connect_timeout: "10s",
    // ServiceEntry `resolution: DNS` → STRICT_DNS; a local address needs no resolver.
    type: isIp(upstream.address) ? "STATIC" : "STRICT_DNS",
    dns_lookup_family: "V4_ONLY",
    ...ISTIO_CLUSTER_SETTINGS,
    // pilot's stat name (and what %UPSTREAM_CLUSTER% prints): the name and a ';'.
    alt_stat_name: `${name};`,
    load_assignment: {
      cluster_name: name,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: socketAddress(upstream.address, upstream.port) } }] }],
    },
  };
  if (upstream.kind === "tls") {
    c.transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        sni: tls?.sni,
        common_tls_context: {
          tls_params: { tls_minimum_protocol_version: "TLSv1_2", tls_maximum_protocol_version: "TLSv1_3" },
          validation_context: {
            trusted_ca: { filename: caBundle(upstream.caFile) },
            ...(tls?.sans.length ? { match_subject_alt_names: tls.sans.map((exact) => ({ exact })) } : {}),
          },
        },
      },
    };
  }
  return c;
}

/** The mesh's envoyFileAccessLog: its logFormat.labels become Envoy's json_format. Istio
 * writes to the path /dev/stdout; Envoy's stdout logger writes to the same place without
 * opening it (a pipe from Node is a socket, which open(2) of /dev/stdout refuses with ENXIO). */
function accessLog(path: string, labels: Record<string, string>): Json {
  const log_format = { json_format: labels };
  if (path === "/dev/stdout") {
    return {
      name: "envoy.access_loggers.stdout",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog", log_format },
    };
  }
  return {
    name: "envoy.access_loggers.file",
    typed_config: { "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog", path, log_format },
  };
}

/** The HTTP Wasm filter as pilot builds it from the WasmPlugin (named as wasmPluginNames says;
 * vm_config from vmConfig; failure_policy from failStrategy). */
export function wasmFilter(opts: SidecarBootstrapOptions): Json {
  const dir = opts.manifestsDir ?? "manifests";
  const spec = wasmPluginSpec(PLUGIN_NAME, dir) as { failStrategy?: string };
  const plugin = findManifest("WasmPlugin", PLUGIN_NAME, dir);
  const keyValues: Record<string, string> = {};
  const hostEnvKeys: string[] = [];
  for (const e of wasmPluginEnv(PLUGIN_NAME, dir)) {
    if (e.valueFrom === "HOST") hostEnvKeys.push(e.name);
    else keyValues[e.name] = e.value ?? "";
  }
  Object.assign(keyValues, opts.vmEnv ?? {});
  const code = opts.wasmRemote
    ? {
        remote: {
          http_uri: { uri: opts.wasmRemote.url, cluster: "wasm_code", timeout: "10s" },
          sha256: opts.wasmRemote.sha256,
          retry_policy: { num_retries: 2 },
        },
      }
    : { local: { filename: opts.wasmFile } };
  const configuration = opts.pluginConfig ?? wasmPluginConfig(PLUGIN_NAME, dir);
  // pilot's names, which differ by Istio line (repo/istiod.ts); the local sidecar follows the newest.
  const names = wasmPluginNames(plugin.metadata.namespace ?? "default", plugin.metadata.name, LOCAL_ISTIO_LINE);
  return {
    name: names.filter,
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm",
      config: {
        name: names.plugin,
        root_id: opts.rootId ?? wasmPluginRootId(PLUGIN_NAME, dir),
        // pilot wraps pluginConfig's JSON in a StringValue: on_configure reads the JSON text.
        ...(configuration === ""
          ? {}
          : { configuration: { "@type": "type.googleapis.com/google.protobuf.StringValue", value: configuration } }),
        vm_config: {
          runtime: "envoy.wasm.runtime.v8",
          code,
          environment_variables: { host_env_keys: hostEnvKeys, key_values: keyValues },
        },
        failure_policy: failurePolicy(opts.failStrategy ?? spec.failStrategy),
      },
    },
  };
}

// What pilot renders for the sleep sidecar beyond the manifests (tests/fixtures/istiod/, which
// tests/istiod-goldens.test.ts holds these to): the outbound HCM's settings, the upstream-Envoy
// filters around the Wasm plugin, the route's retries, the cluster's load balancing, and
// pilot-agent's stats inclusion list.
const ISTIO_HCM_SETTINGS: Json = {
  // No idle limit on a stream (Envoy's default is 5 min): a slow LLM answer may pause longer.
  stream_idle_timeout: "0s",
  normalize_path: true,
  path_with_escaped_slashes_action: "KEEP_UNCHANGED",
  proxy_100_continue: true,
  use_remote_address: false,
  upgrade_configs: [{ upgrade_type: "websocket" }],
  request_id_extension: {
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
      use_request_id_for_trace_sampling: true,
    },
  },
};

const ISTIO_NEIGHBOUR_FILTERS: Json[] = [
  {
    name: "envoy.filters.http.grpc_stats",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.http.grpc_stats.v3.FilterConfig",
      emit_filter_state: true,
      stats_for_all_methods: false,
    },
  },
  { name: "envoy.filters.http.fault", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault" } },
  { name: "envoy.filters.http.cors", typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors" } },
];

/** pilot's default retries on an outbound route (no VirtualService): a failed connection or
 * refused stream is tried twice more, on another host when there is one. */
export function istioRetryPolicy(): Json {
  return {
    retry_on: "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
    num_retries: 2,
    retry_host_predicate: [
      {
        name: "envoy.retry_host_predicates.previous_hosts",
        typed_config: { "@type": "type.googleapis.com/envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate" },
      },
    ],
    host_selection_retry_max_attempts: "5",
  };
}

const ISTIO_CLUSTER_SETTINGS: Json = {
  lb_policy: "LEAST_REQUEST",
  circuit_breakers: {
    thresholds: [{ max_connections: 4294967295, max_pending_requests: 4294967295, max_requests: 4294967295, max_retries: 4294967295 }],
  },
  common_lb_config: { healthy_panic_threshold: {} },
};

/** pilot-agent's stats inclusion list (pkg/bootstrap/config.go): only these stats exist in a
 * sidecar; the `wasm` prefix keeps the filter's (`wasmcustom.*`). */
export function istioStatsMatcher(extraSuffixes: string[] = []): Json {
  return {
    inclusion_list: {
      patterns: [
        { prefix: "reporter=" },
        ...["cluster_manager", "listener_manager", "server", "cluster.xds-grpc", "wasm"].map((prefix) => ({ prefix })),
        ...["rbac.allowed", "rbac.denied", "shadow_allowed", "shadow_denied", ...extraSuffixes].map((suffix) => ({ suffix })),
        { safe_regex: { regex: "vhost\\..*\\.route\\..*" } },
        { prefix: "component" },
        { prefix: "istio" },
      ],
    },
  };
}

/** The sidecar's whole bootstrap (JSON, Envoy's v3 API). */
export function sidecarBootstrap(opts: SidecarBootstrapOptions): Json {
  const dir = opts.manifestsDir ?? "manifests";
  const demo = demoWorkload(dir);
  const workload = opts.workload ?? demo.name;
  const namespace = opts.namespace ?? demo.namespace;
  const pod = `${workload}-local`;
  const services = outboundServices(dir);

  const clusters: Json[] = services.map((s) => cluster(outboundCluster(s.host, s.port), opts.upstream, originatedTls(s.tls, s.host)));
  // Istio's PassthroughCluster sends unknown authorities to their original destination; on one
  // machine there is only the one upstream, so other authorities (other providers' hosts in a
  // test's plugin configuration, non-LLM calls) go there too, in plain HTTP or TLS alike.
  clusters.push(cluster("PassthroughCluster", opts.upstream, undefined));
  if (opts.wasmRemote) {
    const u = new URL(opts.wasmRemote.url);
    clusters.push(cluster("wasm_code", { kind: "plain", address: u.hostname, port: Number(u.port || 80) }, undefined));
  }

  const virtualHosts: Json[] = services.map((s) => ({
    name: `${s.host}:${s.port}`,
    // pilot's domains; the port is ignored in matching (ignore_port_in_host_matching below).
    domains: [s.host, `${s.host}.`],
    include_request_attempt_count: true,
    // Istio's outbound routes have no timeout (0s): an LLM answer may stream for minutes.
    routes: [
      {
        name: "default",
        match: { prefix: "/" },
        route: { cluster: outboundCluster(s.host, s.port), timeout: "0s", max_grpc_timeout: "0s", retry_policy: istioRetryPolicy() },
      },
    ],
  }));
  virtualHosts.push({
    name: "allow_any",
    domains: ["*"],
    include_request_attempt_count: true,
    routes: [
      { name: "allow_any", match: { prefix: "/" }, route: { cluster: "PassthroughCluster", timeout: "0s", max_grpc_timeout: "0s" } },
    ],
  });

  const hcm = {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      stat_prefix: "outbound_0.0.0.0_80;",
      codec_type: "AUTO",
      ...ISTIO_HCM_SETTINGS,
      // The seed's `curl -x` sends absolute-form requests (POST http://host/ HTTP/1.1); in a
      // mesh iptables brings the application's origin-form request instead (local only).
      http_protocol_options: { allow_absolute_url: true },
      route_config: { name: "80", virtual_hosts: virtualHosts, validate_clusters: false, ignore_port_in_host_matching: true },
      // pilot's order (STATS plugins right after istio.metadata_exchange), less the filters only
      // Istio's proxy build has (istio.metadata_exchange, istio.alpn, istio.stats).
      http_filters: [
        wasmFilter(opts),
        ...ISTIO_NEIGHBOUR_FILTERS,
        {
          name: "envoy.filters.http.router",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
        },
      ],
      access_log: [accessLog(opts.accessLogPath, accessLogFormat("llm-access-log", dir))],
    },
  };

  const istioBase: Json = {
    node: {
      id: `sidecar~127.0.0.1~${pod}.${namespace}~${namespace}.svc.cluster.local`,
      cluster: `${workload}.${namespace}`,
      metadata: {
        WORKLOAD_NAME: workload,
        NAMESPACE: namespace,
        NAME: pod,
        CLUSTER_ID: "Kubernetes",
        SERVICE_ACCOUNT: workload,
        LABELS: demo.labels,
        ANNOTATIONS: demo.annotations,
      },
    },
    // Istio's bootstrap: its own tag list, no Envoy defaults; the override's tags are appended.
    stats_config: {
      use_all_default_tags: false,
      stats_tags: ISTIO_DEFAULT_TAGS.map((t) => ({ ...t })),
      stats_matcher: istioStatsMatcher(opts.statsInclusionSuffixes),
    },
    admin: { address: socketAddress("127.0.0.1", opts.adminPort) },
    ...(opts.statsFlushMs ? { stats_flush_interval: `${opts.statsFlushMs / 1000}s` } : {}),
    // As Istio's bootstrap: a (very high) downstream connection limit, so Envoy does not warn.
    overload_manager: {
      resource_monitors: [
        {
          name: "envoy.resource_monitors.global_downstream_max_connections",
          typed_config: {
            "@type": "type.googleapis.com/envoy.extensions.resource_monitors.downstream_connections.v3.DownstreamConnectionsConfig",
            max_active_downstream_connections: 2147483647,
          },
        },
      ],
    },
    static_resources: {
      listeners: [
        {
          name: "0.0.0.0_80",
          address: socketAddress("127.0.0.1", opts.proxyPort),
          per_connection_buffer_limit_bytes: opts.bufferLimitBytes ?? 1048576,
          filter_chains: [{ filters: [hcm] }],
        },
      ],
      clusters,
    },
  };
  return withConnectTunnels(mergeBootstrap(istioBase, customBootstrap(dir)), "0.0.0.0_80");
}
