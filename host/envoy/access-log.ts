// Envoy access-log formatting (source/common/formatter/substitution_formatter.cc,
// stream_info_formatter.cc, http_formatter_context / JsonFormatterImpl), for the operators an
// Istio mesh access log uses.
// Text format: `%OPERATOR(args):maxlen%` substituted, an unset value prints "-".
// JSON format (`json_format` / Istio accessLogEncoding JSON / Telemetry labels): a field whose
// whole value is ONE operator keeps the operator's type — numbers (%DURATION%, %RESPONSE_CODE%,
// %BYTES_*%) are JSON numbers, an unset value is null; a field mixing text and operators is a
// string with "-" for unset values. Keys come out sorted (the output is a protobuf Struct).
// FILTER_STATE: `:PLAIN` → serializeAsString() → the raw bytes as a JSON *string* (Envoy
// FilterStateFormatter::formatValue returns ValueUtil::stringValue, so a value "3" prints as
// "3", never 3); without `:PLAIN` (or `:TYPED`) → serializeAsProto(): a wasm CelState packs a
// google.protobuf.BytesValue into an Any → {"@type":"type.googleapis.com/google.protobuf.
// BytesValue","value":"<base64>"}. (The project's seed log shows `"request_prompt_tokens": 3`,
// which Envoy cannot produce from FILTER_STATE; this module follows Envoy.)

const dec = new TextDecoder();

export interface AccessLogContext {
  startTimeNs: bigint;
  endTimeNs: bigint;
  requestHeaders: [string, string][];
  responseHeaders: [string, string][];
  responseTrailers?: [string, string][];
  responseCode?: number;
  responseCodeDetails?: string;
  responseFlags?: string;
  bytesReceived: number;
  bytesSent: number;
  protocol?: string;
  upstreamHost?: string;
  upstreamCluster?: string;
  upstreamLocalAddress?: string;
  upstreamTransportFailureReason?: string;
  downstreamRemoteAddress?: string;
  downstreamLocalAddress?: string;
  requestedServerName?: string;
  routeName?: string;
  filterState: Map<string, { value: Uint8Array }>;
}

type Val = { t: "s"; v: string } | { t: "n"; v: number } | { t: "j"; v: unknown } | null;

interface Op {
  name: string;
  args?: string;
  maxLen?: number;
}

type Piece = string | Op;

const OP_RE = /%([A-Z_0-9]+)(?:\(([^)]*)\))?(?::(\d+))?%/g;

export function parseFormat(format: string): Piece[] {
  const pieces: Piece[] = [];
  let last = 0;
  for (const m of format.matchAll(OP_RE)) {
    if (m.index! > last) pieces.push(format.slice(last, m.index));
    const op: Op = { name: m[1], args: m[2], maxLen: m[3] !== undefined ? Number(m[3]) : undefined };
    if (!KNOWN.has(op.name)) throw new Error(`Not supported field in StreamInfo: ${op.name}`);
    pieces.push(op);
    last = m.index! + m[0].length;
  }
  if (last < format.length) pieces.push(format.slice(last));
  return pieces.map((p) => (typeof p === "string" ? p.replace(/%%/g, "%") : p));
}

const KNOWN = new Set([
  "START_TIME",
  "DURATION",
  "RESPONSE_CODE",
  "RESPONSE_CODE_DETAILS",
  "RESPONSE_FLAGS",
  "REQ",
  "RESP",
  "TRAILER",
  "UPSTREAM_HOST",
  "UPSTREAM_CLUSTER",
  "UPSTREAM_CLUSTER_RAW",
  "UPSTREAM_LOCAL_ADDRESS",
  "BYTES_RECEIVED",
  "BYTES_SENT",
  "PROTOCOL",
  "FILTER_STATE",
  "REQUESTED_SERVER_NAME",
  "DOWNSTREAM_REMOTE_ADDRESS",
  "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
  "DOWNSTREAM_LOCAL_ADDRESS",
  "UPSTREAM_TRANSPORT_FAILURE_REASON",
  "ROUTE_NAME",
  "REQUEST_DURATION",
  "RESPONSE_DURATION",
  "UPSTREAM_REQUEST_ATTEMPT_COUNT",
  "CONNECTION_TERMINATION_DETAILS",
]);

function header(list: [string, string][] | undefined, spec: string | undefined): Val {
  if (!list || !spec) return null;
  // %REQ(X?Y)%: X, or Y if X is absent; names are case-insensitive. Multiple values: first.
  const [main, alt] = spec.split("?");
  const find = (n: string) => {
    const k = n.toLowerCase();
    const e = list.find(([h]) => h === k);
    return e ? e[1] : undefined;
  };
  const v = find(main) ?? (alt !== undefined ? find(alt) : undefined);
  return v === undefined ? null : { t: "s", v };
}

function str(v: string | undefined): Val {
  return v === undefined || v === "" ? null : { t: "s", v };
}

function startTime(ns: bigint, fmt: string | undefined): string {
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  if (!fmt) return d.toISOString(); // %Y-%m-%dT%H:%M:%E3SZ
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return fmt.replace(/%(E3S|E6S|E9S|[YmdHMSsfz%])/g, (_, c: string) => {
    switch (c) {
      case "Y":
        return String(d.getUTCFullYear());
      case "m":
        return p(d.getUTCMonth() + 1);
      case "d":
        return p(d.getUTCDate());
      case "H":
        return p(d.getUTCHours());
      case "M":
        return p(d.getUTCMinutes());
      case "S":
        return p(d.getUTCSeconds());
      case "E3S":
        return `${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}`;
      case "E6S":
        return `${p(d.getUTCSeconds())}.${String((ns / 1000n) % 1_000_000n).padStart(6, "0")}`;
      case "E9S":
        return `${p(d.getUTCSeconds())}.${String(ns % 1_000_000_000n).padStart(9, "0")}`;
      case "s":
        return String(ns / 1_000_000_000n);
      case "f":
        return String(ns % 1_000_000_000n).padStart(9, "0");
      case "z":
        return "+0000";
      default:
        return "%";
    }
  });
}

function evalOp(op: Op, c: AccessLogContext): Val {
  switch (op.name) {
    case "START_TIME":
      return { t: "s", v: startTime(c.startTimeNs, op.args) };
    case "DURATION":
    case "REQUEST_DURATION":
    case "RESPONSE_DURATION":
      return { t: "n", v: Number((c.endTimeNs - c.startTimeNs) / 1_000_000n) };
    case "RESPONSE_CODE":
      return { t: "n", v: c.responseCode ?? 0 };
    case "RESPONSE_CODE_DETAILS":
      return str(c.responseCodeDetails);
    case "RESPONSE_FLAGS":
      return { t: "s", v: c.responseFlags && c.responseFlags !== "" ? c.responseFlags : "-" };
    case "REQ":
      return header(c.requestHeaders, op.args);
    case "RESP":
      return header(c.responseHeaders, op.args);
    case "TRAILER":
      return header(c.responseTrailers, op.args);
    case "UPSTREAM_HOST":
      return str(c.upstreamHost);
    case "UPSTREAM_CLUSTER":
    // Envoy prints a cluster's alt_stat_name for UPSTREAM_CLUSTER and its name for _RAW; the
    // host's clusters have no alt_stat_name, so both are the name.
    case "UPSTREAM_CLUSTER_RAW":
      return str(c.upstreamCluster);
    case "UPSTREAM_LOCAL_ADDRESS":
      return str(c.upstreamLocalAddress);
    case "UPSTREAM_TRANSPORT_FAILURE_REASON":
      return str(c.upstreamTransportFailureReason);
    case "BYTES_RECEIVED":
      return { t: "n", v: c.bytesReceived };
    case "BYTES_SENT":
      return { t: "n", v: c.bytesSent };
    case "PROTOCOL":
      return str(c.protocol);
    case "REQUESTED_SERVER_NAME":
      return str(c.requestedServerName);
    case "DOWNSTREAM_REMOTE_ADDRESS":
      return str(c.downstreamRemoteAddress);
    case "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT":
      return str(c.downstreamRemoteAddress?.replace(/:\d+$/, ""));
    case "DOWNSTREAM_LOCAL_ADDRESS":
      return str(c.downstreamLocalAddress);
    case "ROUTE_NAME":
      return str(c.routeName);
    case "UPSTREAM_REQUEST_ATTEMPT_COUNT":
      return { t: "n", v: c.upstreamHost ? 1 : 0 };
    case "CONNECTION_TERMINATION_DETAILS":
      return null;
    case "FILTER_STATE": {
      const [key, mode] = (op.args ?? "").split(":");
      const e = c.filterState.get(key);
      if (!e) return null;
      if (mode === "PLAIN") return { t: "s", v: dec.decode(e.value) };
      if (mode === undefined || mode === "TYPED") {
        return { t: "j", v: { "@type": "type.googleapis.com/google.protobuf.BytesValue", value: Buffer.from(e.value).toString("base64") } };
      }
      throw new Error(`Invalid filter state serialize type, only support PLAIN/TYPED: ${mode}`);
    }
    default:
      throw new Error(`Not supported field in StreamInfo: ${op.name}`);
  }
}

function truncate(v: Val, maxLen: number | undefined): Val {
  if (v && v.t === "s" && maxLen !== undefined) return { t: "s", v: v.v.slice(0, maxLen) };
  return v;
}

function asText(v: Val): string {
  if (v === null) return "-";
  if (v.t === "s") return v.v;
  if (v.t === "n") return String(v.v);
  return JSON.stringify(v.v);
}

function renderText(pieces: Piece[], c: AccessLogContext): string {
  let out = "";
  for (const p of pieces) out += typeof p === "string" ? p : asText(truncate(evalOp(p, c), p.maxLen));
  return out;
}

type JsonFormat = { [k: string]: string | number | boolean | JsonFormat };

function renderJsonValue(fmt: string | number | boolean | JsonFormat, c: AccessLogContext): unknown {
  if (typeof fmt === "number" || typeof fmt === "boolean") return fmt;
  if (typeof fmt === "object") return renderJsonObject(fmt, c);
  const pieces = parseFormat(fmt);
  if (pieces.length === 1 && typeof pieces[0] !== "string") {
    const v = truncate(evalOp(pieces[0], c), pieces[0].maxLen);
    if (v === null) return null;
    return v.v;
  }
  return renderText(pieces, c);
}

function renderJsonObject(fmt: JsonFormat, c: AccessLogContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fmt).sort()) out[k] = renderJsonValue(fmt[k], c);
  return out;
}

/** Renders one access-log line: text format (as given) or JSON (one line, newline-terminated). */
export function formatAccessLog(format: string | JsonFormat, ctx: AccessLogContext): string {
  if (typeof format === "string") return renderText(parseFormat(format), ctx);
  return JSON.stringify(renderJsonObject(format, ctx)) + "\n";
}
