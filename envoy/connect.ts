// CONNECT tunnels to plain-HTTP ports, read like any other request. Clients such as undici's
// ProxyAgent (the `openai` npm client's documented proxy set-up) tunnel even http:// through a
// forward proxy with CONNECT. In a mesh the sidecar intercepts the plain connection and never
// sees a CONNECT; on one machine the local sidecar is the client's proxy, so it must take the
// tunnel apart: the outbound listener terminates a CONNECT to any port but 443 (route
// `connect_config`), sends the tunnelled bytes to an internal listener (Envoy's internal
// listeners: bootstrap extension `envoy.bootstrap.internal_listener`, a listener with
// `internal_listener`, a cluster whose endpoint is an `envoy_internal_address`), and that
// listener runs a copy of the same HTTP connection manager, the Wasm filter included, so the
// requests inside are routed, rewritten and counted as if sent to the proxy directly. A
// CONNECT to 443 would carry TLS, which a sidecar cannot read: it is refused with 405, as the
// TypeScript host refuses it (local/proxy.ts).
type Json = Record<string, any>;

export const CONNECT_LISTENER = "connect_tunnel_http";
export const CONNECT_CLUSTER = "connect_tunnel_http";
const HCM = "envoy.filters.network.http_connection_manager";

const REFUSED_TLS =
  "CONNECT to port 443: the local sidecar cannot see inside TLS; send plain http:// (the mesh originates TLS), e.g. curl -x http://127.0.0.1:PORT http://dashscope.aliyuncs.com\n";

/** The two CONNECT routes added to every virtual host (a CONNECT request matches only
 *  `connect_matcher` routes, and only CONNECT requests match those). */
export function connectRoutes(): Json[] {
  return [
    {
      name: "connect_tls_refused",
      match: { connect_matcher: {}, headers: [{ name: ":authority", string_match: { suffix: ":443" } }] },
      direct_response: { status: 405, body: { inline_string: REFUSED_TLS } },
    },
    {
      name: "connect_plain_http",
      match: { connect_matcher: {} },
      // connect_config: Envoy answers 200 itself and forwards the tunnel's payload as raw bytes.
      route: { cluster: CONNECT_CLUSTER, timeout: "0s", upgrade_configs: [{ upgrade_type: "CONNECT", connect_config: {} }] },
    },
  ];
}

/** The cluster that hands a tunnel's bytes to the internal listener. */
export function connectCluster(): Json {
  return {
    name: CONNECT_CLUSTER,
    connect_timeout: "1s",
    load_assignment: {
      cluster_name: CONNECT_CLUSTER,
      endpoints: [{ lb_endpoints: [{ endpoint: { address: { envoy_internal_address: { server_listener_name: CONNECT_LISTENER } } } }] }],
    },
  };
}

/** Adds CONNECT termination to the listener named `listenerName` of a generated bootstrap. */
export function withConnectTunnels(bootstrap: Json, listenerName: string): Json {
  const resources = bootstrap.static_resources as Json;
  const listener = (resources.listeners as Json[]).find((l) => l.name === listenerName);
  const hcmFilter = listener?.filter_chains?.[0]?.filters?.find((f: Json) => f.name === HCM);
  if (!listener || !hcmFilter) throw new Error(`withConnectTunnels: no HTTP connection manager on listener ${listenerName}`);
  // The inner copy is taken before the outer one learns CONNECT: it only ever sees plain HTTP.
  const inner: Json = structuredClone(hcmFilter);
  inner.typed_config.stat_prefix = `${hcmFilter.typed_config.stat_prefix}_connect`;

  const outer = hcmFilter.typed_config;
  outer.upgrade_configs = [...(outer.upgrade_configs ?? []), { upgrade_type: "CONNECT" }];
  for (const vh of outer.route_config.virtual_hosts as Json[]) vh.routes = [...vh.routes, ...connectRoutes()];
  // One access-log line per request: the tunnel itself is not one (its requests are logged by
  // the internal listener).
  outer.access_log = (outer.access_log as Json[]).map((log) => ({
    ...log,
    filter: { header_filter: { header: { name: ":method", string_match: { exact: "CONNECT" }, invert_match: true } } },
  }));

  resources.listeners = [
    ...resources.listeners,
    {
      name: CONNECT_LISTENER,
      internal_listener: {},
      per_connection_buffer_limit_bytes: listener.per_connection_buffer_limit_bytes,
      filter_chains: [{ filters: [inner] }],
    },
  ];
  resources.clusters = [...resources.clusters, connectCluster()];
  bootstrap.bootstrap_extensions = [
    ...(bootstrap.bootstrap_extensions ?? []),
    {
      name: "envoy.bootstrap.internal_listener",
      typed_config: { "@type": "type.googleapis.com/envoy.extensions.bootstrap.internal_listener.v3.InternalListener" },
    },
  ];
  return bootstrap;
}
