// The `identity` section and the `direction` field of the plugin configuration: which extra
// labels name the caller of an LLM call, and on which side of the workload the filter runs.
// Parsed here (config.ts hands over the JSON values and takes back the first error with its
// field) so the main parser stays about routing. Every label is opt-in: with none enabled the
// stat names, and so the seed's Prometheus lines, are exactly as before.
import * as schema from "../config-schema";
import { JType, JValue } from "../json/value";

/** Where the filter sits: in front of the caller's outbound calls (the seed) or on a model
 *  server's inbound side. `auto` reads Envoy's `listener_direction` (Istio marks its listeners). */
export const enum Direction { Auto = 0, Outbound = 1, Inbound = 2 }

/** At most this many header labels: each multiplies the series of every (model, destination). */
export const MAX_HEADER_LABELS: i32 = schema.IDENTITY_HEADERS_MAX_ITEMS;
const MAX_LABEL_NAME = 40;
/** Hex digits of SHA-256 kept for the API key label (48 bits: distinct keys stay apart, the key
 *  cannot be read back). */
export const API_KEY_HASH_CHARS = 12;

/** Tag names the filter already uses; a header label may not take one. */
const RESERVED = ["source_workload", "source_workload_namespace", "destination_service", "model", "reason", "label",
  "source_service_account", "source_principal", "api_key_hash"];

export class HeaderLabel {
  /** The header name UTF-8 encoded once. */
  nameBytes: ArrayBuffer;
  constructor(public name: string, public tag: string) {
    this.nameBytes = String.UTF8.encode(name);
  }
}

export class IdentityConfig {
  /** llmproxy_source_service_account: the calling workload's Kubernetes service account. */
  serviceAccount: bool = false;
  /** llmproxy_source_principal: the caller's SPIFFE ID, spiffe://<trustDomain>/ns/<ns>/sa/<sa>. */
  principal: bool = false;
  trustDomain: string = "cluster.local";
  /** llmproxy_<label>: a request header's value. */
  headers: HeaderLabel[] = [];
  /** llmproxy_api_key_hash: the first API_KEY_HASH_CHARS hex digits of SHA-256 of the caller's key. */
  apiKeyHash: bool = false;
  /** Distinct values per identity label per VM before new ones fold into "other". */
  maxValues: i32 = 100;
}

/** The parse's outcome: the first problem, with the field it concerns ("" when none). */
export class IdentityParse {
  identity: IdentityConfig = new IdentityConfig();
  direction: Direction = Direction.Auto;
  field: string = "";
  message: string = "";

  fail(field: string, message: string): void {
    if (this.field.length == 0) {
      this.field = field;
      this.message = message;
    }
  }
}

export function parseIdentity(identity: JValue | null, direction: JValue | null): IdentityParse {
  const out = new IdentityParse();
  if (direction !== null) {
    const d = direction.type == JType.String ? direction.str : "";
    if (d == "auto") out.direction = Direction.Auto;
    else if (d == "outbound") out.direction = Direction.Outbound;
    else if (d == "inbound") out.direction = Direction.Inbound;
    else out.fail("direction", "expected 'auto', 'outbound' or 'inbound'");
  }
  if (identity === null) return out;
  if (identity.type != JType.Object) {
    out.fail("identity", "expected an object, got " + identity.typeName());
    return out;
  }
  const allowed = schema.IDENTITY_KEYS;
  for (let i = 0; i < identity.keys.length; i++) {
    if (!allowed.includes(identity.keys[i])) {
      out.fail("identity." + identity.keys[i], "unknown field (expected one of " + allowed.join(", ") + ")");
      return out;
    }
  }
  const c = out.identity;
  c.serviceAccount = readBool(out, identity.get("serviceAccount"), "identity.serviceAccount");
  c.principal = readBool(out, identity.get("principal"), "identity.principal");
  c.apiKeyHash = readBool(out, identity.get("apiKeyHash"), "identity.apiKeyHash");
  const td = identity.get("trustDomain");
  if (td !== null) {
    if (td.type != JType.String || !isTrustDomain(td.str)) out.fail("identity.trustDomain", "expected a trust domain: lowercase letters, digits, '.', '-', '_', 1 to 255 characters");
    else c.trustDomain = td.str;
  }
  const max = identity.get("maxValues");
  if (max !== null) {
    if (max.type != JType.Number || max.num != Math.floor(max.num) || max.num < schema.IDENTITY_MAX_VALUES_MIN || max.num > schema.IDENTITY_MAX_VALUES_MAX) {
      out.fail("identity.maxValues", "expected an integer from " + schema.IDENTITY_MAX_VALUES_MIN.toString() + " to " + schema.IDENTITY_MAX_VALUES_MAX.toString());
    }
    else c.maxValues = <i32>max.num;
  }
  const headers = identity.get("headers");
  if (headers !== null) {
    if (headers.type != JType.Array) {
      out.fail("identity.headers", "expected an array, got " + headers.typeName());
      return out;
    }
    if (headers.items.length > MAX_HEADER_LABELS) out.fail("identity.headers", "at most " + MAX_HEADER_LABELS.toString() + " header labels");
    for (let i = 0; i < headers.items.length && out.field.length == 0; i++) readHeader(out, headers.items[i], "identity.headers[" + i.toString() + "]");
  }
  return out;
}

function readHeader(out: IdentityParse, h: JValue, at: string): void {
  if (h.type != JType.Object) {
    out.fail(at, "expected an object, got " + h.typeName());
    return;
  }
  for (let i = 0; i < h.keys.length; i++) {
    if (h.keys[i] != "name" && h.keys[i] != "label") {
      out.fail(at + "." + h.keys[i], "unknown field (expected one of name, label)");
      return;
    }
  }
  const name = h.get("name");
  const label = h.get("label");
  if (name === null || name.type != JType.String || !isHeaderName(name.str)) {
    out.fail(at + ".name", "expected a header name (letters, digits, '-', '_'), not a pseudo-header");
    return;
  }
  if (label === null || label.type != JType.String || !isLabelName(label.str)) {
    out.fail(at + ".label", "expected a label name: a lowercase letter, then lowercase letters, digits or '_', at most " + MAX_LABEL_NAME.toString() + " characters");
    return;
  }
  if (RESERVED.includes(label.str)) {
    out.fail(at + ".label", "'" + label.str + "' is a label the filter sets itself");
    return;
  }
  const headerName = name.str.toLowerCase();
  const tag = "llmproxy_" + label.str;
  const list = out.identity.headers;
  for (let i = 0; i < list.length; i++) {
    if (list[i].tag == tag) {
      out.fail(at + ".label", "label '" + label.str + "' is already used");
      return;
    }
    if (list[i].name == headerName) {
      out.fail(at + ".name", "header '" + headerName + "' is already labelled");
      return;
    }
  }
  list.push(new HeaderLabel(headerName, tag));
}

function readBool(out: IdentityParse, v: JValue | null, at: string): bool {
  if (v === null) return false;
  if (v.type != JType.Bool) {
    out.fail(at, "expected true or false, got " + v.typeName());
    return false;
  }
  return v.bool;
}

function isLabelName(s: string): bool {
  if (s.length == 0 || s.length > MAX_LABEL_NAME) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const lower = c >= 0x61 && c <= 0x7a;
    if (i == 0 ? !lower : !(lower || (c >= 0x30 && c <= 0x39) || c == 0x5f)) return false;
  }
  return true;
}

function isHeaderName(s: string): bool {
  if (s.length == 0 || s.length > 128) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i) | 0x20;
    if (!((c >= 0x61 && c <= 0x7a) || (s.charCodeAt(i) >= 0x30 && s.charCodeAt(i) <= 0x39) || s.charCodeAt(i) == 0x2d || s.charCodeAt(i) == 0x5f)) return false;
  }
  return true;
}

function isTrustDomain(s: string): bool {
  if (s.length == 0 || s.length > 255) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x2d || c == 0x5f)) return false;
  }
  return true;
}
