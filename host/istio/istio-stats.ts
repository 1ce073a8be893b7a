// A model of Istio's stats filter (istio/proxy source/extensions/filters/http/istio_stats/
// istio_stats.cc) for the one metric the seed shows, `istio_requests_total`, on a client sidecar
// (reporter="source"), with the Telemetry API's tagOverrides evaluated at log time.
// What is copied: the stat namespace `istiocustom` (registered as a custom namespace, so the
// Prometheus name has no `envoy_` prefix); the tag order (reporter, the source_* tags from node
// metadata, the destination_* tags from the peer — unknown without metadata exchange, as for an
// external ServiceEntry host — destination_service from the request Host, then request_protocol,
// response_code, grpc_response_status, response_flags, connection_security_policy); added
// dimensions appended after the standard tags; an expression that fails to evaluate (e.g. a
// filter_state key that is not set) yields "unknown". The CEL subset understood here is
// `filter_state['<key>']` and string literals: enough for the manifests, and anything else is
// refused loudly rather than guessed. Envoy's `filter_state[...]` gives the property's raw bytes
// and Istio prints them into the label verbatim (no escaping, no length limit): a value that is
// not valid UTF-8 would make Prometheus reject the sidecar's whole scrape, so the model refuses
// it (an error, not a silently repaired label) and the filter must never publish one.
import type { StatsStore } from "../envoy/stats";
import type { AccessLogContext } from "../envoy/access-log";
import type { Tag } from "../envoy/tags";

export const ISTIO_STAT_NAMESPACE = "istiocustom";

export interface IstioNode {
  workloadName: string;
  namespace: string;
  labels?: Record<string, string>;
  clusterId?: string;
}

const STRICT_UTF8 = new TextDecoder("utf-8", { fatal: true });

type Expr = (ctx: AccessLogContext) => string | undefined;

/** Compiles a dimension expression of the subset above; throws on anything else. */
export function compileCel(expr: string): Expr {
  const e = expr.trim();
  const fs = /^filter_state\[\s*(?:'([^']*)'|"([^"]*)")\s*\]$/.exec(e);
  if (fs) {
    const key = fs[1] ?? fs[2];
    return (ctx) => {
      const v = ctx.filterState.get(key);
      if (!v) return undefined;
      try {
        return STRICT_UTF8.decode(v.value);
      } catch {
        throw new Error(`istio-stats: filter_state['${key}'] is not valid UTF-8: Istio would put these bytes in a label verbatim`);
      }
    };
  }
  const lit = /^(?:'([^']*)'|"([^"]*)")$/.exec(e);
  if (lit) {
    const value = lit[1] ?? lit[2];
    return () => value;
  }
  throw new Error(`istio-stats: CEL expression not supported by the test host: ${expr}`);
}

export class IstioStats {
  private readonly dimensions: [string, Expr][];

  /** `dimensions`: Telemetry tagOverrides for REQUEST_COUNT (tag → CEL), non-standard tags only. */
  constructor(
    private readonly store: StatsStore,
    private readonly node: IstioNode,
    dimensions: Record<string, string> = {},
  ) {
    store.registerStatNamespace(ISTIO_STAT_NAMESPACE);
    // "Make order of tags deterministic": added dimensions are sorted by name.
    this.dimensions = Object.keys(dimensions)
      .sort()
      .map((k) => [k, compileCel(dimensions[k])]);
  }

  /** The access-log handler: one `istio_requests_total` increment for a finished stream. */
  log(ctx: AccessLogContext): void {
    const labels = this.node.labels ?? {};
    const header = (name: string) => ctx.requestHeaders.find(([k]) => k === name)?.[1];
    const authority = header(":authority") ?? header("host") ?? "";
    const unknown = "unknown";
    const tags: Tag[] = [
      { name: "reporter", value: "source" },
      { name: "source_workload", value: this.node.workloadName },
      { name: "source_canonical_service", value: labels["service.istio.io/canonical-name"] ?? "" },
      { name: "source_canonical_revision", value: labels["service.istio.io/canonical-revision"] ?? "" },
      { name: "source_workload_namespace", value: this.node.namespace },
      { name: "source_principal", value: unknown },
      { name: "source_app", value: labels.app ?? "" },
      { name: "source_version", value: labels.version ?? "" },
      { name: "source_cluster", value: this.node.clusterId ?? "" },
      { name: "destination_workload", value: unknown },
      { name: "destination_workload_namespace", value: unknown },
      { name: "destination_principal", value: unknown },
      { name: "destination_app", value: unknown },
      { name: "destination_version", value: unknown },
      { name: "destination_service", value: authority || unknown },
      { name: "destination_canonical_service", value: unknown },
      { name: "destination_canonical_revision", value: "latest" },
      { name: "destination_service_name", value: authority || unknown },
      { name: "destination_service_namespace", value: unknown },
      { name: "destination_cluster", value: unknown },
      { name: "request_protocol", value: "http" },
      { name: "response_code", value: String(ctx.responseCode ?? 0) },
      { name: "grpc_response_status", value: "" },
      { name: "response_flags", value: ctx.responseFlags || "-" },
      { name: "connection_security_policy", value: unknown },
    ];
    for (const [name, expr] of this.dimensions) tags.push({ name, value: expr(ctx) ?? unknown });
    const stat = this.store.counterFromStatNames([ISTIO_STAT_NAMESPACE, "istio_requests_total"], tags);
    stat.value += 1;
    stat.used = true;
  }
}
