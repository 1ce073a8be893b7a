// The istiod goldens (tests/fixtures/istiod/<line>/) as upstream Envoy can run them: the sidecar's
// outbound listener, route and cluster exactly as pilot rendered them, the Wasm filter as
// pilot-agent converted it, the stats settings of pilot-agent's bootstrap with the
// bootstrapOverride merged; changed only where a machine without Kubernetes must (addresses, the
// SDS-served CA, xDS sources inlined) and with the filters upstream Envoy lacks removed, by name.
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { GOLDEN_ROOT, golden, goldenExists } from "../../repo/istiod";
import { repoRoot } from "../../repo/manifests";

type J = any;

/** The Istio lines that have goldens in the repository. */
export function goldenLines(): string[] {
  if (!existsSync(GOLDEN_ROOT)) return [];
  return readdirSync(GOLDEN_ROOT)
    .filter((d) => existsSync(join(GOLDEN_ROOT, d, "meta.json")))
    .sort();
}

export const CLUSTER_FILE = "cluster-outbound_80__dashscope.aliyuncs.com.json";
export const DASHSCOPE_CLUSTER = "outbound|80||dashscope.aliyuncs.com";

/** Filters of Istio's proxy build that upstream Envoy does not have: their config types live in
 * Istio's own proto packages (istio.io/api envoy/..., istio/proxy). */
export function isIstioOnly(filter: J): boolean {
  const tc = filter.typed_config ?? {};
  // A TypedStruct names the real type inside (istio.metadata_exchange is written that way).
  const type: string = tc["@type"] === "type.googleapis.com/udpa.type.v1.TypedStruct" ? tc.type_url : (tc["@type"] ?? "");
  return /^type\.googleapis\.com\/(istio\.|io\.istio\.|stats\.PluginConfig|envoy\.tcp\.metadataexchange\.)/.test(type);
}

/** The HttpConnectionManager of the golden's outbound listener (its one HTTP filter chain). */
export function goldenHcm(line: string): J {
  const l = golden(line, "listener-0.0.0.0_80.json");
  for (const fc of l.filter_chains ?? []) {
    for (const f of fc.filters ?? []) {
      if (f.name === "envoy.filters.network.http_connection_manager") return f.typed_config;
    }
  }
  throw new Error(`${line}: no HTTP connection manager in listener 0.0.0.0_80`);
}

/** The ECDS Wasm resource (TypedExtensionConfig) the listener points at. */
export function goldenEcdsWasm(line: string): J {
  const all: J[] = golden(line, "ecds.json");
  const wasm = all.filter((r) => r.typed_config?.["@type"] === "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm");
  if (wasm.length !== 1) throw new Error(`${line}: expected one Wasm ECDS resource, got ${wasm.length}`);
  return wasm[0];
}

export interface GoldenEnvoyOptions {
  /** Where the dashscope cluster's endpoint really is (the mock, or a TLS server). */
  upstream: { address: string; port: number };
  /** For a TLS upstream: the CA file that stands in for pilot-agent's SDS `file-root:system`. */
  caFile?: string;
  /** Drop the cluster's TLS (a plain-HTTP mock behind it); the TLS test keeps it. */
  plainUpstream?: boolean;
  accessLogPath: string;
  /** Which agent output supplies the Wasm filter (default: the module pulled from the image). */
  agentFile?: string;
  wasmFile?: string;
  /** Edit the dashscope cluster after the golden's (e.g. drop its SAN list). */
  editCluster?: (c: J) => void;
}

export interface GoldenEnvoy {
  bootstrap: J;
  /** The HTTP filters removed because upstream Envoy lacks them, in order. */
  removedFilters: string[];
}

/** A bootstrap for upstream Envoy from one golden line (see the file's header). */
export function goldenEnvoyBootstrap(line: string, o: GoldenEnvoyOptions): GoldenEnvoy {
  const listener = structuredClone(golden(line, "listener-0.0.0.0_80.json"));
  const route = golden(line, "route-80.json");
  const ecds = agentWasm(line, o.agentFile, o.wasmFile ?? join(repoRoot, "build", "llmproxy.wasm"));
  const removedFilters: string[] = [];

  listener.address = { socket_address: { address: "127.0.0.1", port_value: 0 } };
  delete listener.bind_to_port; // pilot's outbound listeners are reached through 15001, not bound
  delete listener.use_original_dst;
  for (const fc of listener.filter_chains ?? []) {
    for (const f of fc.filters ?? []) {
      if (f.name !== "envoy.filters.network.http_connection_manager") continue;
      const h = f.typed_config;
      // RDS → the golden route inline (pilot serves it over ADS).
      if (h.rds) {
        delete h.rds;
        h.route_config = route;
      }
      h.http_filters = h.http_filters.flatMap((hf: J) => {
        if (hf.config_discovery) {
          if (hf.name !== ecds.name) throw new Error(`${line}: ECDS filter ${hf.name} has no agent output (${ecds.name})`);
          return [{ name: hf.name, typed_config: ecds.typed_config }];
        }
        if (isIstioOnly(hf)) {
          removedFilters.push(hf.name);
          return [];
        }
        return [hf];
      });
      for (const al of h.access_log ?? []) {
        // Envoy open(2)s the path; /dev/stdout of a child of Node is a pipe (ENXIO): a file instead.
        if (al.typed_config?.path) al.typed_config.path = o.accessLogPath;
      }
    }
  }
  // Only the HTTP filter chain: the passthrough chains of a sidecar's port-80 listener lead to
  // Istio's original-destination cluster, which has no meaning here.
  listener.filter_chains = listener.filter_chains.filter((fc: J) =>
    (fc.filters ?? []).some((f: J) => f.name === "envoy.filters.network.http_connection_manager"),
  );
  delete listener.default_filter_chain;

  const cluster = structuredClone(golden(line, CLUSTER_FILE));
  cluster.type = "STATIC";
  delete cluster.dns_lookup_family;
  delete cluster.dns_refresh_rate;
  delete cluster.respect_dns_ttl;
  delete cluster.dns_jitter;
  delete cluster.typed_dns_resolver_config;
  cluster.load_assignment = {
    cluster_name: cluster.name,
    endpoints: [
      { lb_endpoints: [{ endpoint: { address: { socket_address: { address: o.upstream.address, port_value: o.upstream.port } } } }] },
    ],
  };
  delete cluster.metadata; // Istio's service metadata, read by its stats filter only
  // The upstream network filter istio.metadata_exchange (Istio's build only).
  for (const f of cluster.filters ?? []) if (isIstioOnly(f)) removedFilters.push(`cluster:${f.name}`);
  cluster.filters = (cluster.filters ?? []).filter((f: J) => !isIstioOnly(f));
  if (o.plainUpstream) {
    delete cluster.transport_socket;
    delete cluster.transport_socket_matches;
  } else {
    const ctx = tlsContext(cluster);
    const common = ctx.common_tls_context;
    const combined = common.combined_validation_context;
    if (combined) {
      // pilot-agent serves the CA over SDS (`file-root:system`: the OS bundle); here a file.
      common.validation_context = { ...combined.default_validation_context, trusted_ca: { filename: o.caFile } };
      delete common.combined_validation_context;
    }
    delete common.tls_certificate_sds_secret_configs;
  }
  o.editCluster?.(cluster);

  const b = golden(line, "bootstrap-merged.json");
  return {
    removedFilters,
    bootstrap: {
      node: b.node,
      stats_config: b.stats_config,
      admin: { address: { socket_address: { address: "127.0.0.1", port_value: 0 } } },
      static_resources: { listeners: [listener], clusters: [cluster] },
    },
  };
}

/** The cluster's UpstreamTlsContext (pilot may put it in transport_socket_matches). */
export function tlsContext(cluster: J): J {
  const ts = cluster.transport_socket ?? cluster.transport_socket_matches?.find((m: J) => m.transport_socket)?.transport_socket;
  if (!ts?.typed_config?.common_tls_context) throw new Error(`${cluster.name}: no TLS transport socket`);
  if (!cluster.transport_socket) {
    cluster.transport_socket = ts;
    delete cluster.transport_socket_matches;
  }
  return ts.typed_config;
}

/** The agent's converted Wasm resource, its cached module file swapped for `wasmFile`. */
export function agentWasm(line: string, agentFile: string | undefined, wasmFile: string): J {
  const file = agentFile ?? "agent-pulled.json";
  if (!goldenExists(line, file)) throw new Error(`${line}: ${file} missing (rendered without a registry?)`);
  const [res] = structuredClone(golden(line, file));
  const code = res.typed_config?.config?.vm_config?.code;
  if (code?.local?.filename) code.local.filename = wasmFile;
  return res;
}
