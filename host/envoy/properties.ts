// proxy_get_property, after source/extensions/common/wasm/context.cc (Context::findValue,
// Context::getProperty, serializeValue) and source/extensions/filters/common/expr/context.cc
// (RequestWrapper, ResponseWrapper, UpstreamWrapper, PeerWrapper, ConnectionWrapper).
// A path is '\0'-separated; the first segment is a property token, or else the name of a
// CelState stored as filter state "wasm.<name>" (stream contexts only); a missing value anywhere
// is NotFound. Values serialize as: string/bytes raw, int/uint/double/timestamp/duration 8 bytes
// little-endian, bool 1 byte, maps/lists in the pairs format.
import { WasmResult, type WasmResultCode } from "../abi/constants";
import { pairsSize, marshalPairs } from "../abi/pairs";
import type { HeaderMap } from "./headers";
import type { FilterStateEntry } from "./filter-state";

const enc = new TextEncoder();
const dec = new TextDecoder();

export type MetadataValue = string | number | boolean | null | MetadataValue[] | { [k: string]: MetadataValue };

export interface PropertyProvider {
  /** Node metadata (Istio: NAME, NAMESPACE, WORKLOAD_NAME, CLUSTER_ID, LABELS...). */
  nodeMetadata?: Record<string, MetadataValue>;
  /** "xds" (default, Envoy ≥ 1.33): only xds.node.*; "legacy": only node.*; "both". */
  nodeMetadataPaths?: "xds" | "legacy" | "both";
  nodeId?: string;
  nodeCluster?: string;
  /** The listener's traffic_direction (Envoy's `listener_direction`: 0 unspecified, 1 inbound,
   *  2 outbound), under xds.* like node (Envoy >= 1.33). */
  listenerDirection?: number;
  /** Extra properties by path (segments joined with "." or "\0"), checked before the builtins. */
  extra?: Record<string, Uint8Array | string>;
}

/** Connection- and route-level facts of one stream (StreamInfo). */
export interface StreamInfo {
  protocol?: string; // "HTTP/1.1" (default), "HTTP/2", "HTTP/3"
  sourceAddress?: string; // downstream remote "ip:port"
  destinationAddress?: string; // downstream local "ip:port"
  upstreamAddress?: string; // "ip:port" of the picked host; readable once the request went upstream
  upstreamLocalAddress?: string;
  upstreamCluster?: string;
  upstreamTransportFailureReason?: string;
  routeName?: string;
  requestedServerName?: string;
  mtls?: boolean;
  /** The first URI SAN of the downstream peer's certificate (mTLS): a SPIFFE ID under Istio. */
  uriSanPeerCertificate?: string;
  connectionId?: number;
  /** Start time, ns since epoch (default: VM clock at stream creation). */
  startTimeNs?: bigint;
}

/** What the property resolver needs from a context. */
export interface PropertySource {
  rootId: string;
  pluginName: string;
  vmId: string;
  provider: PropertyProvider;
  /** null for the root context (no stream info). */
  stream: StreamPropertySource | null;
}

export interface StreamPropertySource {
  info: StreamInfo;
  /** Live or access-log request headers, null once released. */
  requestHeaders(): HeaderMap | null;
  responseHeaders(): HeaderMap | null;
  responseTrailers(): HeaderMap | null;
  responseCode(): number | undefined;
  responseCodeDetails(): string | undefined;
  /** The access log's %RESPONSE_FLAGS% ("-", "DC", "UR,UT"...). */
  readonly responseFlags: string;
  upstreamHostSelected(): boolean;
  requestBodyBytes(): number;
  responseBodyBytes(): number;
  durationNs(): bigint | undefined;
  filterState: Map<string, FilterStateEntry>;
}

// StreamInfo::legacyResponseFlags(), what `response.flags` returns: bit i for CoreResponseFlag i
// (envoy/stream_info/stream_info.h), whose short names are those of %RESPONSE_FLAGS%.
const RESPONSE_FLAG_BITS = "LH UH UT LR UR UF UC UO NR DI FI RL UAEX RLSE DC URX SI IH DPE UMSDR RFCF NFCF DT UPE NC OM DF DO DR".split(
  " ",
);
function legacyResponseFlags(flags: string): number {
  let bits = 0;
  for (const f of flags.split(",")) {
    const i = RESPONSE_FLAG_BITS.indexOf(f);
    if (i >= 0) bits += 2 ** i;
  }
  return bits;
}

type V =
  | { t: "s"; v: string }
  | { t: "b"; v: Uint8Array }
  | { t: "i"; v: bigint }
  | { t: "u"; v: bigint }
  | { t: "d"; v: number }
  | { t: "bool"; v: boolean }
  | { t: "map"; get: (k: string) => V | undefined; entries: () => [string, V][] }
  | { t: "list"; items: V[] }
  | { t: "null" };

const S = (v: string): V => ({ t: "s", v });
const I = (v: bigint | number): V => ({ t: "i", v: BigInt(v) });
const U = (v: bigint | number): V => ({ t: "u", v: BigInt(v) });

function mapOf(fields: Record<string, () => V | undefined>): V {
  return {
    t: "map",
    get: (k) => (Object.prototype.hasOwnProperty.call(fields, k) ? fields[k]() : undefined),
    entries: () =>
      Object.entries(fields).flatMap(([k, f]) => {
        const v = f();
        return v ? [[k, v] as [string, V]] : [];
      }),
  };
}

function fromMetadata(m: MetadataValue): V {
  if (m === null) return { t: "null" };
  if (typeof m === "string") return S(m);
  if (typeof m === "number") return { t: "d", v: m };
  if (typeof m === "boolean") return { t: "bool", v: m };
  if (Array.isArray(m)) return { t: "list", items: m.map(fromMetadata) };
  const obj = m;
  return {
    t: "map",
    get: (k) => (k in obj ? fromMetadata(obj[k]) : undefined),
    entries: () => Object.entries(obj).map(([k, v]) => [k, fromMetadata(v)]),
  };
}

function headersMap(h: HeaderMap | null): V {
  // HeadersWrapper: lookup by LowerCaseString, all values joined with ",".
  return {
    t: "map",
    get: (k) => {
      if (!h) return undefined;
      const vals = h.get(k);
      return vals.length ? S(vals.join(",")) : undefined;
    },
    entries: () => {
      if (!h) return [];
      const seen = new Map<string, string[]>();
      for (const [k, v] of h.entries) (seen.get(k) ?? seen.set(k, []).get(k)!).push(v);
      return [...seen].map(([k, vs]) => [k, S(vs.join(","))]);
    },
  };
}

function splitPort(addr: string | undefined): { ip?: string; port?: number } {
  if (!addr) return {};
  const i = addr.lastIndexOf(":");
  if (i < 0) return { ip: addr };
  return { ip: addr.slice(0, i), port: Number(addr.slice(i + 1)) };
}

function nodeMessage(p: PropertyProvider): V {
  return mapOf({
    id: () => S(p.nodeId ?? ""),
    cluster: () => S(p.nodeCluster ?? ""),
    metadata: () => fromMetadata(p.nodeMetadata ?? {}),
  });
}

function streamTokens(s: StreamPropertySource): Record<string, () => V | undefined> {
  const info = s.info;
  return {
    request: () => {
      const h = s.requestHeaders();
      const path = h?.first(":path");
      const fromHeaders = (f: () => V | undefined) => () => (h ? f() : undefined);
      return mapOf({
        headers: () => headersMap(h),
        time: () => ({ t: "i", v: info.startTimeNs ?? 0n }),
        protocol: () => S(info.protocol ?? "HTTP/1.1"),
        duration: () => {
          const d = s.durationNs();
          return d === undefined ? undefined : I(d);
        },
        size: () => U(s.requestBodyBytes()),
        path: fromHeaders(() => (path !== undefined ? S(path) : undefined)),
        url_path: fromHeaders(() => (path !== undefined ? S(path.split("?")[0]) : undefined)),
        query: fromHeaders(() => (path !== undefined ? S(path.includes("?") ? path.slice(path.indexOf("?") + 1) : "") : undefined)),
        host: fromHeaders(() => opt(h!.first(":authority"))),
        scheme: fromHeaders(() => opt(h!.first(":scheme"))),
        method: fromHeaders(() => opt(h!.first(":method"))),
        referer: fromHeaders(() => opt(h!.first("referer"))),
        useragent: fromHeaders(() => opt(h!.first("user-agent"))),
        id: fromHeaders(() => opt(h!.first("x-request-id"))),
      });
    },
    response: () =>
      mapOf({
        code: () => {
          const c = s.responseCode();
          return c === undefined ? undefined : I(c);
        },
        code_details: () => opt(s.responseCodeDetails()),
        flags: () => U(legacyResponseFlags(s.responseFlags)),
        headers: () => headersMap(s.responseHeaders()),
        trailers: () => headersMap(s.responseTrailers()),
        size: () => U(s.responseBodyBytes()),
        grpc_status: () => {
          const g = s.responseTrailers()?.first("grpc-status") ?? s.responseHeaders()?.first("grpc-status");
          return g === undefined ? undefined : I(Number(g));
        },
      }),
    upstream: () =>
      mapOf({
        address: () => (s.upstreamHostSelected() ? opt(info.upstreamAddress) : undefined),
        port: () => {
          const p = splitPort(info.upstreamAddress).port;
          return s.upstreamHostSelected() && p !== undefined ? I(p) : undefined;
        },
        local_address: () => (s.upstreamHostSelected() ? opt(info.upstreamLocalAddress) : undefined),
        transport_failure_reason: () => opt(info.upstreamTransportFailureReason),
      }),
    source: () =>
      mapOf({
        address: () => opt(info.sourceAddress),
        port: () => optPort(info.sourceAddress),
      }),
    destination: () =>
      mapOf({
        address: () => opt(info.destinationAddress),
        port: () => optPort(info.destinationAddress),
      }),
    connection: () =>
      mapOf({
        id: () => U(info.connectionId ?? 0),
        mtls: () => ({ t: "bool", v: info.mtls ?? false }),
        requested_server_name: () => S(info.requestedServerName ?? ""),
        uri_san_peer_certificate: () => opt(info.uriSanPeerCertificate),
      }),
    connection_id: () => U(info.connectionId ?? 0),
    filter_state: () => ({
      t: "map",
      get: (k) => {
        const e = s.filterState.get(k);
        return e ? { t: "b", v: e.value } : undefined;
      },
      entries: () => [...s.filterState].map(([k, e]) => [k, { t: "b", v: e.value } as V]),
    }),
    metadata: () => mapOf({}),
  };
}

function opt(v: string | undefined): V | undefined {
  return v === undefined ? undefined : S(v);
}
function optPort(addr: string | undefined): V | undefined {
  const p = splitPort(addr).port;
  return p === undefined || Number.isNaN(p) ? undefined : I(p);
}

function topTokens(src: PropertySource): Record<string, () => V | undefined> {
  const p = src.provider;
  const mode = p.nodeMetadataPaths ?? "xds";
  const s = src.stream;
  const t: Record<string, () => V | undefined> = {
    plugin_name: () => S(src.pluginName),
    plugin_root_id: () => S(src.rootId),
    plugin_vm_id: () => S(src.vmId),
  };
  if (s) Object.assign(t, streamTokens(s));
  const xdsFields: Record<string, () => V | undefined> = {
    node: () => nodeMessage(p),
    cluster_name: () => (s ? opt(s.info.upstreamCluster) : undefined),
    route_name: () => (s ? opt(s.info.routeName) : undefined),
    // Envoy answers it in stream contexts only (NotFound in on_configure, observed in 1.36/1.40).
    listener_direction: () => (s ? I(p.listenerDirection ?? 0) : undefined),
  };
  if (mode === "xds" || mode === "both") t.xds = () => mapOf(xdsFields);
  if (mode === "legacy" || mode === "both") Object.assign(t, xdsFields);
  return t;
}

function serialize(v: V): Uint8Array | undefined {
  switch (v.t) {
    case "s":
      return enc.encode(v.v);
    case "b":
      return v.v;
    case "i":
    case "u": {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setBigUint64(0, BigInt.asUintN(64, v.v), true);
      return out;
    }
    case "d": {
      const out = new Uint8Array(8);
      new DataView(out.buffer).setFloat64(0, v.v, true);
      return out;
    }
    case "bool":
      return Uint8Array.of(v.v ? 1 : 0);
    case "map":
    case "list": {
      const pairs: [Uint8Array, Uint8Array][] = [];
      if (v.t === "map") {
        for (const [k, x] of v.entries()) {
          const sx = serialize(x);
          if (!sx) return undefined;
          pairs.push([enc.encode(k), sx]);
        }
      } else {
        for (const x of v.items) {
          const sx = serialize(x);
          if (!sx) return undefined;
          pairs.push([sx, new Uint8Array(0)]);
        }
      }
      const out = new Uint8Array(pairsSize(pairs));
      marshalPairs(pairs, out);
      return out;
    }
    default:
      return undefined; // SerializationFailure
  }
}

export function getProperty(src: PropertySource, rawPath: Uint8Array): { result: WasmResultCode; value?: Uint8Array } {
  const path = dec.decode(rawPath);
  const extra = src.provider.extra;
  if (extra) {
    const hit = extra[path] ?? extra[path.split("\0").join(".")];
    if (hit !== undefined) return { result: WasmResult.Ok, value: typeof hit === "string" ? enc.encode(hit) : hit };
  }
  // Context::getProperty: split on '\0'; a trailing empty segment ends the walk.
  const parts: string[] = [];
  let start = 0;
  while (start < path.length) {
    let end = path.indexOf("\0", start);
    if (end < 0) end = path.length;
    parts.push(path.slice(start, end));
    start = end + 1;
  }
  if (parts.length === 0) return { result: WasmResult.SerializationFailure };
  const tokens = topTokens(src);
  let value: V | undefined;
  const top = parts[0];
  if (Object.prototype.hasOwnProperty.call(tokens, top)) {
    value = tokens[top]();
  } else if (src.stream) {
    // Not a builtin: a CelState "wasm.<name>" (findValue's filter-state fallback).
    const e = src.stream.filterState.get("wasm." + top);
    value = e ? { t: "b", v: e.value } : undefined;
  }
  if (!value) return { result: WasmResult.NotFound };
  for (let i = 1; i < parts.length; i++) {
    const part = parts[i];
    if (value.t === "map") {
      const next: V | undefined = value.get(part);
      if (!next) return { result: WasmResult.NotFound };
      value = next;
    } else if (value.t === "list") {
      if (!/^-?\d+$/.test(part)) return { result: WasmResult.NotFound };
      const idx = Number(part);
      if (idx < 0 || idx >= value.items.length) return { result: WasmResult.NotFound };
      value = value.items[idx];
    } else {
      return { result: WasmResult.NotFound };
    }
  }
  const out = serialize(value);
  if (!out) return { result: WasmResult.SerializationFailure };
  return { result: WasmResult.Ok, value: out };
}
