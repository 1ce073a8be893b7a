// An Envoy header map (source/common/http/header_map_impl.cc) reduced to what a filter observes:
// lowercase keys, insertion order with pseudo-headers kept before regular headers, addCopy on an
// existing *inline* header appends to its value with "," (insertByKey → appendToHeader), setCopy
// removes every entry of the key then adds (envoy.reloadable_features.
// http_set_copy_replace_all_headers, default true), byteSize = sum of key and value lengths.

/** Inline (O(1)) headers of Envoy's request/response maps; `add` merges into them. */
const INLINE = new Set([
  ":authority",
  ":method",
  ":path",
  ":scheme",
  ":protocol",
  ":status",
  "host",
  "content-type",
  "content-length",
  "content-encoding",
  "user-agent",
  "x-request-id",
  "x-forwarded-for",
  "x-forwarded-proto",
  "x-forwarded-host",
  "x-forwarded-client-cert",
  "x-envoy-original-path",
  "x-envoy-decorator-operation",
  "x-envoy-expected-rq-timeout-ms",
  "x-envoy-upstream-service-time",
  "x-envoy-attempt-count",
  "x-envoy-downstream-service-cluster",
  "x-envoy-downstream-service-node",
  "x-envoy-external-address",
  "x-envoy-internal",
  "x-envoy-retry-on",
  "x-envoy-retry-grpc-on",
  "x-envoy-max-retries",
  "x-envoy-upstream-rq-timeout-ms",
  "x-envoy-upstream-rq-per-try-timeout-ms",
  "x-envoy-hedge-on-per-try-timeout",
  "x-envoy-immediate-health-check-fail",
  "x-envoy-overloaded",
  "x-envoy-rate-limited",
  "x-envoy-degraded",
  "x-envoy-upstream-canary",
  "x-envoy-upstream-healthchecked-cluster",
  "accept-encoding",
  "cache-control",
  "connection",
  "date",
  "etag",
  "expect",
  "grpc-accept-encoding",
  "grpc-message",
  "grpc-status",
  "grpc-timeout",
  "keep-alive",
  "location",
  "proxy-connection",
  "referer",
  "server",
  "te",
  "transfer-encoding",
  "upgrade",
  "via",
  "x-ot-span-context",
  "origin",
]);

export type HeaderList = [string, string][];

export class HeaderMap {
  readonly entries: HeaderList = [];

  constructor(init?: readonly (readonly [string, string])[]) {
    if (init) for (const [k, v] of init) this.add(k, v);
  }

  get size(): number {
    return this.entries.length;
  }

  get byteSize(): number {
    let n = 0;
    for (const [k, v] of this.entries) n += k.length + v.length;
    return n;
  }

  get(key: string): string[] {
    const k = key.toLowerCase();
    const out: string[] = [];
    for (const e of this.entries) if (e[0] === k) out.push(e[1]);
    return out;
  }

  first(key: string): string | undefined {
    const k = key.toLowerCase();
    for (const e of this.entries) if (e[0] === k) return e[1];
    return undefined;
  }

  add(key: string, value: string): void {
    const k = key.toLowerCase();
    if (INLINE.has(k)) {
      const existing = this.entries.find((e) => e[0] === k);
      if (existing) {
        existing[1] = existing[1] === "" ? value : `${existing[1]},${value}`;
        return;
      }
    }
    if (k.startsWith(":")) {
      let i = 0;
      while (i < this.entries.length && this.entries[i][0].startsWith(":")) i++;
      this.entries.splice(i, 0, [k, value]);
    } else {
      this.entries.push([k, value]);
    }
  }

  set(key: string, value: string): void {
    this.remove(key);
    this.add(key, value);
  }

  remove(key: string): void {
    const k = key.toLowerCase();
    for (let i = this.entries.length - 1; i >= 0; i--) if (this.entries[i][0] === k) this.entries.splice(i, 1);
  }

  setPairs(pairs: readonly (readonly [string, string])[]): void {
    this.entries.length = 0;
    for (const [k, v] of pairs) this.add(k, v);
  }

  toArray(): HeaderList {
    return this.entries.map(([k, v]) => [k, v]);
  }
}
