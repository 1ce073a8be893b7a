// Envoy's OpenTelemetry stats sink (envoy.stat_sinks.open_telemetry, in both pinned builds):
// pushes every stat over OTLP/gRPC to a collector at each stats flush, tags as attributes.
// Added to a sidecar bootstrap for users who collect with OpenTelemetry rather than scrape,
// and by the tests, which point it at a receiver on loopback (tests/helpers/otlp.ts).
type Json = Record<string, unknown>;

export const OTLP_CLUSTER = "otlp_collector";

/** `bootstrap` plus the sink and an HTTP/2 cluster for the collector at address:port. */
export function withOtlpStatsSink(bootstrap: Json, collector: { address: string; port: number }): Json {
  const out = structuredClone(bootstrap) as Json & { static_resources: { clusters: Json[] } };
  out.stats_sinks = [
    {
      name: "envoy.stat_sinks.open_telemetry",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.stat_sinks.open_telemetry.v3.SinkConfig",
        grpc_service: { envoy_grpc: { cluster_name: OTLP_CLUSTER } },
        // Tag-extracted names (wasmcustom.gen_ai_client_token_usage) and the tags as attributes:
        // the shape an OpenTelemetry backend expects.
        emit_tags_as_attributes: true,
        use_tag_extracted_name: true,
      },
    },
  ];
  out.static_resources.clusters.push({
    name: OTLP_CLUSTER,
    connect_timeout: "5s",
    type: "STATIC",
    typed_extension_protocol_options: {
      "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
        "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
        explicit_http_config: { http2_protocol_options: {} },
      },
    },
    load_assignment: {
      cluster_name: OTLP_CLUSTER,
      endpoints: [
        { lb_endpoints: [{ endpoint: { address: { socket_address: { address: collector.address, port_value: collector.port } } } }] },
      ],
    },
  });
  return out;
}
