// The other half of a mesh call on one machine: a model server's sidecar (the filter on its
// INBOUND listener, as the WasmPlugin example manifests/examples/wasmplugin-server.yaml puts it
// there with `match: [{mode: SERVER}]`) and the client sidecar's Istio mutual TLS. Istio's
// inbound listener terminates the caller's mTLS (requiring a client certificate whose URI SAN
// is the caller's SPIFFE ID), marks itself traffic_direction INBOUND and routes to the app's
// port; the client's outbound clusters originate that mTLS with the workload's own certificate.
// Generated, like envoy/bootstrap.ts, from the manifests; certificates are files the caller
// provides (tests make them with openssl).
import { ISTIO_DEFAULT_TAGS } from "../host/envoy/tags";
import { customBootstrap, findManifest } from "../repo/manifests";
import { mergeBootstrap, wasmFilter } from "./bootstrap";

type Json = Record<string, unknown>;

/** A workload's certificate, key and the mesh's root CA, as files (Istio: from istiod via SDS). */
export interface MeshTls {
  certFile: string;
  keyFile: string;
  caFile: string;
}

export const SERVER_PLUGIN = "asm-llm-proxy-server";
/** Istio's inbound listener name. */
export const INBOUND_LISTENER = "virtualInbound";

export interface ServerSidecarOptions {
  wasmFile: string;
  /** The model server itself (plain HTTP on loopback, as the app's port behind the sidecar). */
  app: { address: string; port: number };
  /** The inbound listener on 127.0.0.1 (0 = any free port). */
  inboundPort: number;
  adminPort: number;
  tls: MeshTls;
  workload: string;
  namespace: string;
  serviceAccount: string;
  /** Default: the server WasmPlugin example's pluginConfig. */
  pluginConfig?: string;
  statsFlushMs?: number;
  manifestsDir?: string;
  /** Stand-in for Istio's metadata exchange (not in upstream Envoy): filter state
   *  `downstream_peer` set to this serialized peer (`namespace=...,workload=...`) before the
   *  filter runs, as a plain string object (`envoy.string`). */
  peerMetadata?: string;
}

function tlsCertificate(tls: MeshTls): Json {
  return { certificate_chain: { filename: tls.certFile }, private_key: { filename: tls.keyFile } };
}

/** The server WasmPlugin example's pluginConfig, as JSON text. */
export function serverPluginConfig(dir = "manifests"): string {
  const wp = findManifest("WasmPlugin", SERVER_PLUGIN, dir) as unknown as { spec: { pluginConfig?: unknown } };
  return JSON.stringify(wp.spec.pluginConfig ?? {});
}

/** The model server's sidecar: mTLS-terminating inbound listener, the filter, the app cluster. */
export function serverSidecarBootstrap(opts: ServerSidecarOptions): Json {
  const dir = opts.manifestsDir ?? "manifests";
  const appCluster = `inbound|${opts.app.port}||`;
  const hcm = {
    name: "envoy.filters.network.http_connection_manager",
    typed_config: {
      "@type": "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager",
      stat_prefix: "inbound_0.0.0.0_8000",
      codec_type: "AUTO",
      // Istio's inbound routes: every authority the Service may be called by goes to the app.
      route_config: {
        name: "inbound|8000||",
        virtual_hosts: [
          {
            name: "inbound|http|8000",
            domains: ["*"],
            routes: [{ match: { prefix: "/" }, route: { cluster: appCluster, timeout: "0s" } }],
          },
        ],
      },
      http_filters: [
        ...(opts.peerMetadata === undefined
          ? []
          : [
              {
                name: "envoy.filters.http.set_filter_state",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.filters.http.set_filter_state.v3.Config",
                  on_request_headers: [
                    {
                      object_key: "downstream_peer",
                      factory_key: "envoy.string",
                      format_string: { text_format_source: { inline_string: opts.peerMetadata } },
                    },
                  ],
                },
              },
            ]),
        wasmFilter({
          wasmFile: opts.wasmFile,
          pluginConfig: opts.pluginConfig ?? serverPluginConfig(dir),
          manifestsDir: dir,
          // Not used by wasmFilter; the outbound fields of its options type.
          upstream: { kind: "plain", address: opts.app.address, port: opts.app.port },
          proxyPort: 0,
          adminPort: 0,
          accessLogPath: "/dev/null",
        }),
        {
          name: "envoy.filters.http.router",
          typed_config: { "@type": "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router" },
        },
      ],
    },
  };
  const base: Json = {
    node: {
      id: `sidecar~127.0.0.1~${opts.workload}-local.${opts.namespace}~${opts.namespace}.svc.cluster.local`,
      cluster: `${opts.workload}.${opts.namespace}`,
      metadata: { WORKLOAD_NAME: opts.workload, NAMESPACE: opts.namespace, SERVICE_ACCOUNT: opts.serviceAccount, CLUSTER_ID: "Kubernetes" },
    },
    stats_config: { use_all_default_tags: false, stats_tags: ISTIO_DEFAULT_TAGS.map((t) => ({ ...t })) },
    admin: { address: { socket_address: { address: "127.0.0.1", port_value: opts.adminPort } } },
    ...(opts.statsFlushMs ? { stats_flush_interval: `${opts.statsFlushMs / 1000}s` } : {}),
    static_resources: {
      listeners: [
        {
          name: INBOUND_LISTENER,
          address: { socket_address: { address: "127.0.0.1", port_value: opts.inboundPort } },
          // What the filter reads as `listener_direction` (1 = INBOUND).
          traffic_direction: "INBOUND",
          filter_chains: [
            {
              filters: [hcm],
              transport_socket: {
                name: "envoy.transport_sockets.tls",
                typed_config: {
                  "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                  require_client_certificate: true,
                  common_tls_context: {
                    tls_certificates: [tlsCertificate(opts.tls)],
                    validation_context: { trusted_ca: { filename: opts.tls.caFile } },
                  },
                },
              },
            },
          ],
        },
      ],
      clusters: [
        {
          name: appCluster,
          connect_timeout: "10s",
          type: "STATIC",
          load_assignment: {
            cluster_name: appCluster,
            endpoints: [
              { lb_endpoints: [{ endpoint: { address: { socket_address: { address: opts.app.address, port_value: opts.app.port } } } }] },
            ],
          },
        },
      ],
    },
  };
  return mergeBootstrap(base, customBootstrap(dir));
}

/** A client sidecar bootstrap (envoy/bootstrap.ts) whose outbound clusters originate Istio
 *  mutual TLS with the workload's certificate instead of plain HTTP. */
export function withIstioMutualTls(bootstrap: Json, tls: MeshTls): Json {
  const out = structuredClone(bootstrap) as { static_resources: { clusters: Json[] } };
  for (const c of out.static_resources.clusters) {
    if (c.name === "wasm_code") continue;
    c.transport_socket = {
      name: "envoy.transport_sockets.tls",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
        common_tls_context: {
          tls_certificates: [tlsCertificate(tls)],
          validation_context: { trusted_ca: { filename: tls.caFile } },
        },
      },
    };
  }
  return out as unknown as Json;
}
