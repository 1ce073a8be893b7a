// Who called whom, for one LLM call: the source workload and namespace, the destination label
// when the filter runs on a model server's inbound side, and the opt-in identity labels
// (config `identity`), each bounded by its own LabelBudget and folded into "other" past it.
// Outbound (the seed), the caller is the sidecar's own workload: its service account and SPIFFE
// ID come from node metadata. Inbound, the caller is the downstream peer: its SPIFFE ID from
// the client certificate (mTLS), its workload from Istio's peer metadata where present.
import { Direction, HeaderLabel, IdentityConfig, API_KEY_HASH_CHARS } from "./config";
import { sha256HexPrefix } from "./sha256";
import { LabelBudget } from "../telemetry/cardinality";
import { labelFromString, OTHER, UNKNOWN } from "../telemetry/labels";
import { LABELS_FOLDED, Metrics } from "../telemetry/metrics";
import { getProperty, getPropertyString, headerValue, HeaderMap } from "../envoy";

export const TAG_SERVICE_ACCOUNT = "llmproxy_source_service_account";
export const TAG_PRINCIPAL = "llmproxy_source_principal";
export const TAG_API_KEY_HASH = "llmproxy_api_key_hash";

const H_AUTHORIZATION = String.UTF8.encode("authorization");
// The API key headers of the shapes the filter reads: Anthropic, Azure OpenAI, Gemini.
const KEY_HEADERS: ArrayBuffer[] = [String.UTF8.encode("x-api-key"), String.UTF8.encode("api-key"), String.UTF8.encode("x-goog-api-key")];

export class Attribution {
  sourceWorkload: string = UNKNOWN;
  sourceNamespace: string = UNKNOWN;
  /** The destination label; "" = the request's host (outbound). */
  destination: string = "";
  /** The identity labels as `|key=value` segments, appended after the seed's four. */
  tags: string = "";
  /** On a model server's inbound side (the caller is the downstream peer). */
  inbound: bool = false;
}

export class IdentityState {
  config: IdentityConfig = new IdentityConfig();
  /** As configured. Auto is resolved per request, not once per VM: with WasmPlugin mode
   *  CLIENT_AND_SERVER, Envoy may run the inbound and the outbound listener's filter in one VM. */
  direction: Direction = Direction.Auto;
  private workload: string = UNKNOWN;
  private namespace: string = UNKNOWN;
  private serviceAccount: string = UNKNOWN;
  private principal: string = UNKNOWN;
  private self: string = UNKNOWN;
  private serviceAccounts: LabelBudget = new LabelBudget(100, []);
  private principals: LabelBudget = new LabelBudget(100, []);
  private keys: LabelBudget = new LabelBudget(100, []);
  private headers: LabelBudget[] = [];
  private workloads: LabelBudget = new LabelBudget(100, []);
  private namespaces: LabelBudget = new LabelBudget(100, []);
  /** Outbound with no per-request label, every call has the same attribution: built once. */
  private fixed: Attribution | null = null;

  /** `workload`, `namespace`, `serviceAccount`: node metadata as read (null when absent). */
  configure(config: IdentityConfig, direction: Direction, workload: string | null, namespace: string | null, serviceAccount: string | null): void {
    this.config = config;
    this.direction = direction;
    this.workload = labelFromString(workload);
    this.namespace = labelFromString(namespace);
    this.serviceAccount = labelFromString(serviceAccount);
    this.principal = serviceAccount !== null && serviceAccount.length > 0 && namespace !== null && namespace.length > 0
      ? labelFromString(spiffeId(config.trustDomain, namespace, serviceAccount)) : UNKNOWN;
    this.self = workload !== null && workload.length > 0 ? labelFromString(workload + (namespace !== null && namespace.length > 0 ? "." + namespace : "")) : UNKNOWN;
    const max = config.maxValues;
    // The budgets outlive a reload (the state is the VM's, vm-state.ts): values already admitted
    // stay admitted, as their stats stay in Envoy; a header label keeps its budget by position.
    this.serviceAccounts.reconfigure(max, []);
    this.principals.reconfigure(max, []);
    this.keys.reconfigure(max, []);
    this.workloads.reconfigure(max, []);
    this.namespaces.reconfigure(max, []);
    for (let i = 0; i < this.headers.length; i++) this.headers[i].reconfigure(max, []);
    while (this.headers.length > config.headers.length) this.headers.pop();
    while (this.headers.length < config.headers.length) this.headers.push(new LabelBudget(max, []));
    this.fixed = null;
  }

  /** Whether attribute() needs the client's API key, read before the filter may replace it. */
  get wantsApiKey(): bool {
    return this.config.apiKeyHash;
  }

  /** The attribution of the current request; `clientKey` = clientApiKey() before any injection. */
  attribute(metrics: Metrics, clientKey: string | null): Attribution {
    const inbound = this.direction == Direction.Auto ? listenerDirection() == Direction.Inbound : this.direction == Direction.Inbound;
    const c = this.config;
    if (!inbound && c.headers.length == 0 && !c.apiKeyHash) {
      let fixed = this.fixed;
      if (fixed === null) {
        fixed = new Attribution();
        fixed.sourceWorkload = this.workload;
        fixed.sourceNamespace = this.namespace;
        fixed.tags = this.identityTags(metrics, this.serviceAccount, this.principal, null);
        this.fixed = fixed;
      }
      return fixed;
    }
    const a = new Attribution();
    if (inbound) {
      a.inbound = true;
      a.destination = this.self;
      // The caller's SPIFFE ID (mTLS): spiffe://<trust domain>/ns/<ns>/sa/<sa>.
      const san = getPropertyString(["connection", "uri_san_peer_certificate"]);
      const spiffe = san !== null && san.length > 0 ? san : null;
      const ns = spiffe !== null ? spiffeSegment(spiffe, "/ns/") : null;
      const sa = spiffe !== null ? spiffeSegment(spiffe, "/sa/") : null;
      const peer = downstreamPeer();
      const peerWorkload = peer.workload;
      const peerNamespace = peer.namespace !== null ? peer.namespace : ns;
      a.sourceWorkload = admit(metrics, this.workloads, labelFromString(peerWorkload), "source_workload");
      a.sourceNamespace = admit(metrics, this.namespaces, labelFromString(peerNamespace), "source_workload_namespace");
      a.tags = this.identityTags(metrics, labelFromString(sa), labelFromString(spiffe), clientKey);
    } else {
      a.sourceWorkload = this.workload;
      a.sourceNamespace = this.namespace;
      a.tags = this.identityTags(metrics, this.serviceAccount, this.principal, clientKey);
    }
    return a;
  }

  private identityTags(metrics: Metrics, serviceAccount: string, principal: string, clientKey: string | null): string {
    const c = this.config;
    let tags = "";
    if (c.serviceAccount) tags += "|" + TAG_SERVICE_ACCOUNT + "=" + admit(metrics, this.serviceAccounts, serviceAccount, "source_service_account");
    if (c.principal) tags += "|" + TAG_PRINCIPAL + "=" + admit(metrics, this.principals, principal, "source_principal");
    if (c.apiKeyHash) {
      const hash = clientKey !== null && clientKey.length > 0 ? sha256HexPrefix(Uint8Array.wrap(String.UTF8.encode(clientKey)), API_KEY_HASH_CHARS) : UNKNOWN;
      tags += "|" + TAG_API_KEY_HASH + "=" + admit(metrics, this.keys, hash, "api_key_hash");
    }
    for (let i = 0; i < c.headers.length; i++) {
      const h: HeaderLabel = c.headers[i];
      const value = labelFromString(headerValue(HeaderMap.Request, h.nameBytes));
      tags += "|" + h.tag + "=" + admit(metrics, this.headers[i], value, h.tag.substring(9));
    }
    return tags;
  }
}

class Peer {
  workload: string | null = null;
  namespace: string | null = null;
}

/** At most this much of a serialized peer is read. */
const MAX_PEER_BYTES = 4096;

/** Istio's metadata exchange leaves the caller as filter state `downstream_peer`, a
 *  WorkloadMetadataObject. Where Envoy resolves its fields by name (`workload`, `namespace`)
 *  they are used; else its serialized form, `key=value` pairs separated by commas (Istio's
 *  baggage: `namespace=`/`workload=`, or in older releases `k8s.namespace.name=` and
 *  `k8s.<deployment|job|cronjob|pod>.name=`). Without either (no Istio, no exchange), nothing. */
function downstreamPeer(): Peer {
  const p = new Peer();
  p.workload = nonEmpty(getPropertyString(["filter_state", "downstream_peer", "workload"]));
  p.namespace = nonEmpty(getPropertyString(["filter_state", "downstream_peer", "namespace"]));
  if (p.workload !== null && p.namespace !== null) return p;
  const raw = getPropertyString(["filter_state", "downstream_peer"]);
  if (raw === null) return p;
  const pairs = (raw.length > MAX_PEER_BYTES ? raw.substring(0, MAX_PEER_BYTES) : raw).split(",");
  let workload: string | null = null, legacyWorkload: string | null = null, namespace: string | null = null;
  for (let i = 0; i < pairs.length; i++) {
    const eq = pairs[i].indexOf("=");
    if (eq <= 0) continue;
    const key = pairs[i].substring(0, eq).trim();
    const value = nonEmpty(pairs[i].substring(eq + 1).trim());
    if (key == "workload") workload = value;
    else if (key == "namespace" || key == "k8s.namespace.name") namespace = value;
    else if (legacyWorkload === null && (key == "k8s.deployment.name" || key == "k8s.job.name" || key == "k8s.cronjob.name" || key == "k8s.pod.name")) legacyWorkload = value;
  }
  if (p.workload === null) p.workload = workload !== null ? workload : legacyWorkload;
  if (p.namespace === null) p.namespace = namespace;
  return p;
}

function nonEmpty(s: string | null): string | null {
  return s !== null && s.length > 0 ? s : null;
}

/** The API key the client sent: a Bearer token, else x-api-key, api-key or x-goog-api-key. */
export function clientApiKey(): string | null {
  const auth = headerValue(HeaderMap.Request, H_AUTHORIZATION);
  if (auth !== null && auth.length > 7 && auth.substring(0, 7).toLowerCase() == "bearer ") return auth.substring(7).trim();
  for (let i = 0; i < KEY_HEADERS.length; i++) {
    const v = headerValue(HeaderMap.Request, KEY_HEADERS[i]);
    if (v !== null && v.length > 0) return v.trim();
  }
  return null;
}

export function spiffeId(trustDomain: string, namespace: string, serviceAccount: string): string {
  return "spiffe://" + trustDomain + "/ns/" + namespace + "/sa/" + serviceAccount;
}

/** The path segment after `marker` in a SPIFFE ID (`/ns/` or `/sa/`), or null. */
function spiffeSegment(id: string, marker: string): string | null {
  if (!id.startsWith("spiffe://")) return null;
  const at = id.indexOf(marker, 9);
  if (at < 0) return null;
  const start = at + marker.length;
  let end = id.indexOf("/", start);
  if (end < 0) end = id.length;
  return end > start ? id.substring(start, end) : null;
}

/** Envoy's listener direction (TrafficDirection: 1 INBOUND, 2 OUTBOUND, an int64):
 *  `xds.listener_direction` on Envoy >= 1.33, `listener_direction` before (as node metadata).
 *  Envoy answers it in stream contexts only (NotFound in on_configure: 1.36.4, 1.40.0); Auto
 *  when unreadable, Outbound when the listener leaves it unspecified. */
function listenerDirection(): Direction {
  let v = getProperty(["xds", "listener_direction"]);
  if (v === null) v = getProperty(["listener_direction"]);
  if (v === null || v.byteLength < 1) return Direction.Auto;
  return load<u8>(changetype<usize>(v)) == 1 ? Direction.Inbound : Direction.Outbound;
}

function admit(metrics: Metrics, budget: LabelBudget, value: string, label: string): string {
  const admitted = budget.admit(value);
  if (admitted == OTHER && value != OTHER) metrics.add(LABELS_FOLDED + "|llmproxy_label=" + label, 1);
  return admitted;
}
