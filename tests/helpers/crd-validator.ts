// The API server's admission check for Istio resources, as far as the tests need it: the OpenAPI
// v3 schema of each kind+version from Istio's CRDs (tests/fixtures/istio/crds.yaml, see the
// README there for its origin), with unknown fields rejected as `kubectl apply`'s default strict
// field validation does, plus the CRDs' x-kubernetes-validations CEL rules re-implemented in JS
// (ajv cannot run CEL). Used by tests/manifests.test.ts.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv, { type ValidateFunction } from "ajv";
import { parseAllDocuments } from "yaml";
import { repoRoot, type K8sObject } from "../../repo/manifests";

export const CRDS_PATH = join(repoRoot, "tests", "fixtures", "istio", "crds.yaml");

type Schema = Record<string, any>;
export interface CrdVersion {
  group: string;
  kind: string;
  version: string;
  served: boolean;
  schema: Schema;
}

let crdCache: CrdVersion[] | undefined;
export function crdVersions(): CrdVersion[] {
  if (crdCache) return crdCache;
  const out: CrdVersion[] = [];
  for (const d of parseAllDocuments(readFileSync(CRDS_PATH, "utf8"))) {
    const crd = d.toJS();
    if (!crd || crd.kind !== "CustomResourceDefinition") continue;
    for (const v of crd.spec.versions) {
      out.push({ group: crd.spec.group, kind: crd.spec.names.kind, version: v.name, served: v.served, schema: v.schema.openAPIV3Schema });
    }
  }
  return (crdCache = out);
}

function crdFor(apiVersion: string, kind: string): CrdVersion | undefined {
  const [group, version] = apiVersion.split("/");
  return crdVersions().find((c) => c.group === group && c.version === version && c.kind === kind);
}

const ISTIO_GROUPS = ["extensions.istio.io", "networking.istio.io", "telemetry.istio.io", "security.istio.io"];
export const isIstio = (o: K8sObject) => ISTIO_GROUPS.includes(String(o.apiVersion).split("/")[0]);

// DNS-1123 subdomain (object names) and label (namespaces).
export const DNS_SUBDOMAIN = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$";
export const DNS_LABEL = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$";
const objectMetaSchema: Schema = {
  type: "object",
  required: ["name"],
  properties: {
    name: { type: "string", maxLength: 253, pattern: DNS_SUBDOMAIN },
    namespace: { type: "string", maxLength: 63, pattern: DNS_LABEL },
    labels: { type: "object", additionalProperties: { type: "string", maxLength: 63 } },
    annotations: { type: "object", additionalProperties: { type: "string" } },
  },
  additionalProperties: false,
};

/**
 * Kubernetes prunes (or, with kubectl's default strict field validation, rejects) fields a
 * structural schema does not declare unless the node says x-kubernetes-preserve-unknown-fields.
 * JSON Schema allows them, so close every object that lists `properties`.
 */
function closeObjects(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(closeObjects);
  if (!s || typeof s !== "object") return s;
  const out: Schema = {};
  for (const [k, v] of Object.entries(s as Schema)) {
    if (k === "properties") out[k] = Object.fromEntries(Object.entries(v as Schema).map(([p, ps]) => [p, closeObjects(ps)]));
    else if (k === "x-kubernetes-validations" || k === "enum" || k === "required") out[k] = v;
    else out[k] = closeObjects(v);
  }
  if (out.properties && out.additionalProperties === undefined && !out["x-kubernetes-preserve-unknown-fields"])
    out.additionalProperties = false;
  return out;
}

/** The CRD version's schema, with apiVersion/kind/metadata made explicit and objects closed. */
function resourceSchema(c: CrdVersion): Schema {
  const top = structuredClone(c.schema);
  top.type = "object";
  top.properties = {
    apiVersion: { type: "string", const: `${c.group}/${c.version}` },
    kind: { type: "string", const: c.kind },
    metadata: objectMetaSchema,
    ...top.properties,
  };
  top.required = [...new Set(["apiVersion", "kind", "metadata", ...(top.required ?? [])])];
  return closeObjects(top) as Schema;
}

const ajv = new Ajv({ strict: false, allErrors: true });
ajv.addFormat("int32", { type: "number", validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
ajv.addFormat("int64", { type: "number", validate: (n: number) => Number.isInteger(n) });
ajv.addFormat("double", { type: "number", validate: () => true });
ajv.addFormat("date-time", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$/i);
const validators = new Map<string, ValidateFunction>();
function validatorFor(c: CrdVersion): ValidateFunction {
  const key = `${c.group}/${c.version}/${c.kind}`;
  let v = validators.get(key);
  if (!v) validators.set(key, (v = ajv.compile(resourceSchema(c))));
  return v;
}

/** Schema errors of an Istio object (empty when valid). */
export function schemaErrors(o: K8sObject): string[] {
  const c = crdFor(o.apiVersion, o.kind);
  if (!c) return [`no CRD schema for ${o.kind} ${o.apiVersion} in ${CRDS_PATH}`];
  if (!c.served) return [`${o.kind} ${o.apiVersion} is not served`];
  const v = validatorFor(c);
  if (v(o)) return [];
  return (v.errors ?? []).map((e) => `${e.instancePath || "/"} ${e.message}${e.params ? " " + JSON.stringify(e.params) : ""}`);
}

// ---------------------------------------------------------------------------------------------
// x-kubernetes-validations (CEL), re-implemented
// ---------------------------------------------------------------------------------------------

const has = (o: any, k: string) => o !== null && typeof o === "object" && o[k] !== undefined && o[k] !== null;
const norm = (rule: string) => rule.replace(/\s+/g, " ").trim();

/** Go's time.ParseDuration, in nanoseconds; NaN when invalid. */
function goDurationNs(s: string): number {
  if (s === "0") return 0;
  const m = /^([-+]?)((?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|ms|s|m|h))+)$/.exec(s);
  if (!m) return NaN;
  const unit: Record<string, number> = { ns: 1, us: 1e3, µs: 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9 };
  let total = 0;
  for (const [, num, u] of m[2].matchAll(/(\d+\.?\d*|\.\d+)(ns|us|µs|ms|s|m|h)/g)) total += parseFloat(num) * unit[u];
  return m[1] === "-" ? -total : total;
}

/** CEL isURL (Go url.ParseRequestURI): an absolute URL or an absolute path. Returns the scheme or null. */
function celUrlScheme(s: string): string | null {
  if (s.startsWith("/")) return "";
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):/.exec(s);
  if (!m) return null;
  try {
    new URL(s);
  } catch {
    return null;
  }
  return m[1].toLowerCase();
}

const ALLOWED_WASM_SCHEMES = ["", "http", "https", "oci", "file"];

/** Every CEL rule of the kinds/versions we use, as a JS predicate over `self`. */
export const CEL_RULES: Record<string, (self: any) => boolean> = {
  // WasmPlugin, Telemetry (spec)
  "(has(self.selector) ? 1 : 0) + (has(self.targetRef) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1": (s) =>
    +has(s, "selector") + +has(s, "targetRef") + +has(s, "targetRefs") <= 1,
  // TrafficExtension (spec)
  "(has(self.selector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1": (s) => +has(s, "selector") + +has(s, "targetRefs") <= 1,
  "has(self.wasm) != has(self.lua)": (s) => has(s, "wasm") !== has(s, "lua"),
  // TrafficExtension.wasm.url (WasmPlugin's rule with the schemes in another order)
  'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "file", "oci"]) : (isURL("http://" + self) && url("http://" + self).getScheme() in ["", "http", "https", "file", "oci"])':
    (s) => {
      const scheme = celUrlScheme(s);
      if (scheme !== null) return ALLOWED_WASM_SCHEMES.includes(scheme);
      return celUrlScheme("http://" + s) === "http";
    },
  // selector.matchLabels (WasmPlugin, Telemetry, DestinationRule.workloadSelector)
  'self.all(key, !key.contains("*"))': (s) => Object.keys(s).every((k) => !k.includes("*")),
  "self.all(key, key.size() != 0)": (s) => Object.keys(s).every((k) => k.length !== 0),
  '!self.contains("*")': (s) => !String(s).includes("*"),
  // targetRef(s).namespace
  "self.size() == 0": (s) => String(s).length === 0,
  // WasmPlugin.url
  'isURL(self) ? (url(self).getScheme() in ["", "http", "https", "oci", "file"]) : (isURL("http://" + self) && url("http://" + self).getScheme() in ["", "http", "https", "oci", "file"])':
    (s) => {
      const scheme = celUrlScheme(s);
      if (scheme !== null) return ALLOWED_WASM_SCHEMES.includes(scheme);
      return celUrlScheme("http://" + s) === "http";
    },
  // WasmPlugin.vmConfig.env[]
  '(has(self.valueFrom) ? self.valueFrom : "") != "HOST" || !has(self.value)': (s) =>
    (has(s, "valueFrom") ? s.valueFrom : "") !== "HOST" || !has(s, "value"),
  // durations (Telemetry.metrics[].reportingInterval, DestinationRule traffic policies)
  "duration(self) >= duration('1ms')": (s) => goDurationNs(String(s)) >= 1e6,
  // Telemetry.metrics[].overrides[].tagOverrides{*}
  '((has(self.operation) ? self.operation : "") == "UPSERT") ? (self.value != "") : true': (s) =>
    (has(s, "operation") ? s.operation : "") === "UPSERT" ? has(s, "value") && s.value !== "" : true,
  '((has(self.operation) ? self.operation : "") == "REMOVE") ? !has(self.value) : true': (s) =>
    (has(s, "operation") ? s.operation : "") === "REMOVE" ? !has(s, "value") : true,
  // ServiceEntry (spec)
  "(has(self.workloadSelector) ? 1 : 0) + (has(self.endpoints) ? 1 : 0) <= 1": (s) =>
    +has(s, "workloadSelector") + +has(s, "endpoints") <= 1,
  '!((has(self.addresses) ? self.addresses : []).exists(k, k.contains("/")) && !((has(self.resolution) ? self.resolution : "NONE") in ["STATIC", "NONE"]))':
    (s) =>
      !(
        (has(s, "addresses") ? s.addresses : []).some((k: string) => k.includes("/")) &&
        !["STATIC", "NONE"].includes(has(s, "resolution") ? s.resolution : "NONE")
      ),
  '((has(self.resolution) ? self.resolution : "NONE") == "NONE") ? !has(self.endpoints) : true': (s) =>
    (has(s, "resolution") ? s.resolution : "NONE") === "NONE" ? !has(s, "endpoints") : true,
  '((has(self.resolution) ? self.resolution : "") == "DNS_ROUND_ROBIN") ? ((has(self.endpoints) ? self.endpoints : []).size() <= 1) : true':
    (s) => ((has(s, "resolution") ? s.resolution : "") === "DNS_ROUND_ROBIN" ? (has(s, "endpoints") ? s.endpoints : []).length <= 1 : true),
  // ServiceEntry.endpoints[]
  "has(self.address) || has(self.network)": (s) => has(s, "address") || has(s, "network"),
  '(has(self.address) ? self.address : "").startsWith("unix://") ? !has(self.ports) : true': (s) =>
    String(has(s, "address") ? s.address : "").startsWith("unix://") ? !has(s, "ports") : true,
  'self.startsWith("unix://") ? (self.substring(7, 8) == "/" || self.substring(7, 8) == "@") : true': (s) =>
    String(s).startsWith("unix://") ? ["/", "@"].includes(String(s).substring(7, 8)) : true,
  'self.startsWith("unix://") ? !self.endsWith("/") : true': (s) => (String(s).startsWith("unix://") ? !String(s).endsWith("/") : true),
  'self.all(key, size(key) < 63 && key.matches("^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$"))': (s) =>
    Object.keys(s).every((k) => k.length < 63 && /^[a-zA-Z0-9](?:[-a-zA-Z0-9]*[a-zA-Z0-9])?$/.test(k)),
  // EnvoyFilter (spec; configPatches[].match)
  "(has(self.workloadSelector) ? 1 : 0) + (has(self.targetRefs) ? 1 : 0) <= 1": (s) =>
    +has(s, "workloadSelector") + +has(s, "targetRefs") <= 1,
  'has(self.context) ? ((self.context == "WAYPOINT") ? has(self.waypoint) : !has(self.waypoint)) : !has(self.waypoint)': (s) =>
    has(s, "context") ? (s.context === "WAYPOINT" ? has(s, "waypoint") : !has(s, "waypoint")) : !has(s, "waypoint"),
  // ServiceEntry ports (number, targetPort, endpoint ports)
  "0 < self && self <= 65535": (s) => 0 < s && s <= 65535,
  // ServiceEntry.hosts[]
  'self != "*"': (s) => s !== "*",
  // ServiceEntry.ports
  "self.all(l1, self.exists_one(l2, l1.number == l2.number))": (s) =>
    s.every((a: any) => s.filter((b: any) => a.number === b.number).length === 1),
};

export interface CelSite {
  path: string;
  message: string;
  rule: string;
}

/** Every x-kubernetes-validations rule in a schema, with its (schema) path. */
export function celSites(schema: Schema, path = ""): CelSite[] {
  const out: CelSite[] = [];
  for (const v of schema["x-kubernetes-validations"] ?? []) out.push({ path: path || ".", message: v.message, rule: norm(v.rule) });
  for (const [k, p] of Object.entries(schema.properties ?? {})) out.push(...celSites(p as Schema, `${path}.${k}`));
  if (schema.items) out.push(...celSites(schema.items, `${path}[]`));
  if (schema.additionalProperties && typeof schema.additionalProperties === "object")
    out.push(...celSites(schema.additionalProperties, `${path}{*}`));
  for (const k of ["oneOf", "anyOf", "allOf"]) for (const b of schema[k] ?? []) out.push(...celSites(b, `${path}<${k}>`));
  return out;
}

export interface CelResult {
  checked: CelSite[];
  violations: string[];
  unimplemented: string[];
}

/** Runs the CEL rules of `schema` over `value` (only where the value is present, as Kubernetes does). */
function runCel(schema: Schema, value: unknown, path = "", acc: CelResult = { checked: [], violations: [], unimplemented: [] }): CelResult {
  if (value === undefined || value === null) return acc;
  for (const v of schema["x-kubernetes-validations"] ?? []) {
    const rule = norm(v.rule);
    const site = { path: path || ".", message: v.message, rule };
    const impl = CEL_RULES[rule];
    if (!impl) acc.unimplemented.push(`${site.path}: ${rule}`);
    else {
      acc.checked.push(site);
      if (!impl(value)) acc.violations.push(`${site.path}: ${v.message}`);
    }
  }
  if (typeof value !== "object") return acc;
  const obj = value as Record<string, unknown>;
  for (const [k, p] of Object.entries(schema.properties ?? {})) runCel(p as Schema, obj[k], `${path}.${k}`, acc);
  if (schema.items && Array.isArray(value)) value.forEach((item, i) => runCel(schema.items, item, `${path}[${i}]`, acc));
  if (schema.additionalProperties && typeof schema.additionalProperties === "object" && !Array.isArray(value)) {
    for (const [k, item] of Object.entries(obj)) runCel(schema.additionalProperties, item, `${path}{${k}}`, acc);
  }
  return acc;
}

export function celCheck(o: K8sObject): CelResult {
  const c = crdFor(o.apiVersion, o.kind);
  if (!c) return { checked: [], violations: [], unimplemented: [] }; // schemaErrors reports the missing CRD
  return runCel(c.schema, o);
}

/** Schema + CEL: everything the API server would say about an Istio object. */
export function admissionErrors(o: K8sObject): string[] {
  const r = celCheck(o);
  return [...schemaErrors(o), ...r.violations, ...r.unimplemented.map((u) => `unimplemented CEL rule ${u}`)];
}
