// The plugin configuration (WasmPlugin pluginConfig, delivered to on_configure as JSON),
// parsed and validated once. Any problem rejects the whole configuration with the field named,
// so Envoy refuses it (on_configure returns false) rather than running half-configured.
// Unknown fields are rejected too: a typo must not silently turn a feature off.
import { JsonParser, JType, JValue } from "./json/value";
import { MatchKind, StringMatch } from "./match";
import { ApiShape } from "./apis/shape";
import { Pricing, parsePricing } from "./pricing";
import { ApiPath, configuredApiPath, defaultApiPaths, shapeByName, shapeNames, DEFAULT_SHAPE } from "./apis/registry";
import { Direction, IdentityConfig, parseIdentity } from "./identity/config";
import { MetricNames, metricNamesOf } from "./telemetry/otel";
import { AcceptEncoding, acceptEncodingMode, ACCEPT_ENCODING_CHOICES, INHERIT } from "./compress/codings";
import * as schema from "./config-schema";

export const enum ModelPolicy { Override = 0, Default = 1 }

export class Provider {
  name: string = "";
  hosts: string[] = [];
  shape: ApiShape = DEFAULT_SHAPE;
  path: string = "";
  apiKeyEnv: string = "";
  apiKey: string = "";
  model: string = "";
  includeUsage: bool = true;
  /** An AcceptEncoding from the older providers[].dropAcceptEncoding (true: identity, false:
   *  keep), or INHERIT (the configuration's acceptEncoding) when that is unset. */
  acceptEncoding: i32 = INHERIT;
}

export class HeaderMatch {
  /** The header name UTF-8 encoded once, here, not on every request. */
  nameBytes: ArrayBuffer;
  constructor(public name: string, public match: StringMatch) {
    this.nameBytes = String.UTF8.encode(name);
  }
}

export class Route {
  name: string = "";
  headers: HeaderMatch[] = [];
  model: string = "";
  provider: Provider | null = null;
  modelPolicy: ModelPolicy = ModelPolicy.Override;
}

/** Default bound on a request body buffered for a rewrite: half of Envoy's default
 *  per_connection_buffer_limit_bytes (1 MiB), so that the chunk which crosses our bound still fits
 *  under Envoy's and the request is passed on unchanged instead of failing with 413. */
export const DEFAULT_MAX_REWRITE_BODY: i32 = schema.MAX_REWRITE_BODY_BYTES_DEFAULT;

export class Config {
  providers: Provider[] = [];
  routes: Route[] = [];
  apiPaths: ApiPath[] = defaultApiPaths();
  maxRewriteBodyBytes: i32 = DEFAULT_MAX_REWRITE_BODY;
  /** Distinct model label values per VM before new ones fold into "other". */
  maxModels: i32 = schema.MAX_MODELS_DEFAULT;
  /** When non-empty, only these model names become label values; the rest are "other". */
  modelAllowList: string[] = [];
  /** Distinct destination label values per VM before new ones fold into "other". */
  maxDestinations: i32 = schema.MAX_DESTINATIONS_DEFAULT;
  /** Emit debug log lines (never the API key). */
  debug: bool = false;
  /** Opt-in caller labels (identity/config.ts). */
  identity: IdentityConfig = new IdentityConfig();
  direction: Direction = Direction.Auto;
  /** Which metric families: asm_llm_proxy_*, the OpenTelemetry GenAI ones, or both. */
  metricNames: MetricNames = MetricNames.Asm;
  /** What a recognised LLM call's accept-encoding becomes (compress/codings.ts). */
  acceptEncoding: i32 = AcceptEncoding.Narrow;
  /** Prices per model (pricing.ts); empty: no cost is computed. */
  pricing: Pricing = new Pricing();

  providerForHost(host: string): Provider | null {
    for (let i = 0; i < this.providers.length; i++) {
      const p = this.providers[i];
      for (let j = 0; j < p.hosts.length; j++) if (p.hosts[j] == host) return p;
    }
    return null;
  }

  providerByName(name: string): Provider | null {
    for (let i = 0; i < this.providers.length; i++) if (this.providers[i].name == name) return this.providers[i];
    return null;
  }
}

/** The outcome of parsing: a Config, or the first error with the field it concerns. */
export class ConfigResult {
  config: Config | null = null;
  error: string = "";
}

export function parseConfig(text: string, env: (name: string) => string | null): ConfigResult {
  const result = new ConfigResult();
  const config = new Config();
  if (text.trim().length == 0) {
    result.config = config; // observe-only with defaults
    return result;
  }
  const parser = new JsonParser(text);
  const root = parser.parse();
  if (root === null) {
    result.error = "configuration is not valid JSON: " + parser.error;
    return result;
  }
  const r = new Reader();
  if (r.object(root, "configuration", schema.CONFIG_KEYS)) {
    readProviders(r, root, config, env);
    readRoutes(r, root, config);
    readApiPaths(r, root, config);
    config.maxRewriteBodyBytes = r.int(root.get("maxRewriteBodyBytes"), "maxRewriteBodyBytes", schema.MAX_REWRITE_BODY_BYTES_MIN, schema.MAX_REWRITE_BODY_BYTES_MAX, config.maxRewriteBodyBytes);
    config.maxModels = r.int(root.get("maxModels"), "maxModels", schema.MAX_MODELS_MIN, schema.MAX_MODELS_MAX, config.maxModels);
    config.maxDestinations = r.int(root.get("maxDestinations"), "maxDestinations", schema.MAX_DESTINATIONS_MIN, schema.MAX_DESTINATIONS_MAX, config.maxDestinations);
    config.modelAllowList = r.boundedStrings(root.get("modelAllowList"), "modelAllowList", schema.MODEL_ALLOW_LIST_MAX_ITEMS, schema.MODEL_ALLOW_LIST_ITEM_MAX_LENGTH);
    config.debug = r.bool(root.get("debug"), "debug", false);
    const identity = parseIdentity(root.get("identity"), root.get("direction"));
    if (identity.field.length > 0) r.fail(identity.field, identity.message);
    config.identity = identity.identity;
    config.direction = identity.direction;
    const names = metricNamesOf(r.string(root.get("metricNames"), "metricNames", false, "asm"));
    if (names < 0) r.fail("metricNames", "expected 'asm', 'otel' or 'both'");
    else config.metricNames = <MetricNames>names;
    const mode = r.string(root.get("acceptEncoding"), "acceptEncoding", false, "narrow");
    config.acceptEncoding = acceptEncodingMode(mode);
    if (config.acceptEncoding < 0) r.fail("acceptEncoding", "expected one of " + ACCEPT_ENCODING_CHOICES + ", got '" + mode + "'");
    const pricing = root.get("pricing");
    if (pricing !== null) {
      const p = parsePricing(pricing);
      if (p.failed) r.fail(p.field, p.message);
      else config.pricing = p.pricing;
    }
  }
  if (r.error.length > 0) {
    result.error = r.error;
    return result;
  }
  result.config = config;
  return result;
}

function readProviders(r: Reader, root: JValue, config: Config, env: (name: string) => string | null): void {
  const list = root.get("providers");
  if (list === null) return;
  if (!r.array(list, "providers")) return;
  for (let i = 0; i < list.items.length; i++) {
    const at = "providers[" + i.toString() + "]";
    const v = list.items[i];
    if (!r.object(v, at, schema.PROVIDERS_KEYS)) return;
    const p = new Provider();
    p.name = r.string(v.get("name"), at + ".name", true, "");
    if (p.name.length > 0 && config.providerByName(p.name) !== null) r.fail(at + ".name", "duplicate provider name '" + p.name + "'");
    p.hosts = r.strings(v.get("hosts"), at + ".hosts", true);
    for (let j = 0; j < p.hosts.length; j++) {
      const h = p.hosts[j];
      if (h.includes(":") || h.includes("/") || h != h.toLowerCase()) r.fail(at + ".hosts[" + j.toString() + "]", "expected a lowercase host name without port or path, got '" + h + "'");
      else if (config.providerForHost(h) !== null) r.fail(at + ".hosts[" + j.toString() + "]", "host '" + h + "' already belongs to another provider");
    }
    const api = r.string(v.get("api"), at + ".api", false, "openai");
    const shape = shapeByName(api);
    if (shape === null) r.fail(at + ".api", "expected one of " + shapeNames() + ", got '" + api + "'");
    else p.shape = shape;
    p.path = r.string(v.get("path"), at + ".path", false, "");
    if (p.path.length > 0 && !p.path.startsWith("/")) r.fail(at + ".path", "expected a path starting with '/'");
    p.apiKeyEnv = r.string(v.get("apiKeyEnv"), at + ".apiKeyEnv", false, "");
    const inline = r.string(v.get("apiKey"), at + ".apiKey", false, "");
    // The environment (a Secret through vmConfig.env) wins; the inline key is only a fallback.
    let key = "";
    if (p.apiKeyEnv.length > 0) {
      const fromEnv = env(p.apiKeyEnv);
      if (fromEnv !== null) key = fromEnv.trim();
    }
    if (key.length == 0) key = inline;
    if (key.includes("\n") || key.includes("\r")) r.fail(p.apiKeyEnv.length > 0 ? at + ".apiKeyEnv" : at + ".apiKey", "the API key contains a line break");
    p.apiKey = key;
    p.model = r.string(v.get("model"), at + ".model", false, "");
    p.includeUsage = r.bool(v.get("includeUsage"), at + ".includeUsage", true);
    if (v.get("dropAcceptEncoding") !== null) {
      p.acceptEncoding = r.bool(v.get("dropAcceptEncoding"), at + ".dropAcceptEncoding", true) ? AcceptEncoding.Identity : AcceptEncoding.Keep;
    }
    config.providers.push(p);
  }
}

function readRoutes(r: Reader, root: JValue, config: Config): void {
  const list = root.get("routes");
  if (list === null) return;
  if (!r.array(list, "routes")) return;
  for (let i = 0; i < list.items.length; i++) {
    const at = "routes[" + i.toString() + "]";
    const v = list.items[i];
    if (!r.object(v, at, schema.ROUTES_KEYS)) return;
    const route = new Route();
    route.name = r.string(v.get("name"), at + ".name", false, "");
    const match = v.get("match");
    if (match !== null && r.object(match, at + ".match", schema.ROUTES_MATCH_KEYS)) {
      const headers = match.get("headers");
      if (headers !== null && r.array(headers, at + ".match.headers")) {
        for (let j = 0; j < headers.items.length; j++) {
          const hat = at + ".match.headers[" + j.toString() + "]";
          const h = headers.items[j];
          if (!r.object(h, hat, schema.ROUTES_MATCH_HEADERS_KEYS)) return;
          const name = r.string(h.get("name"), hat + ".name", true, "").toLowerCase();
          const m = readMatch(r, h, hat, true);
          if (m !== null) route.headers.push(new HeaderMatch(name, m));
        }
      }
    }
    route.model = r.string(v.get("model"), at + ".model", false, "");
    const providerName = r.string(v.get("provider"), at + ".provider", false, "");
    if (providerName.length > 0) {
      route.provider = config.providerByName(providerName);
      if (route.provider === null) r.fail(at + ".provider", "no provider named '" + providerName + "'");
    }
    const policy = r.string(v.get("modelPolicy"), at + ".modelPolicy", false, "override");
    if (policy == "override") route.modelPolicy = ModelPolicy.Override;
    else if (policy == "default") route.modelPolicy = ModelPolicy.Default;
    else r.fail(at + ".modelPolicy", "expected 'override' or 'default', got '" + policy + "'");
    if (route.model.length == 0 && route.provider === null) r.fail(at, "a route must set a model or a provider");
    config.routes.push(route);
  }
}

function readApiPaths(r: Reader, root: JValue, config: Config): void {
  const list = root.get("apiPaths");
  if (list === null) return;
  if (!r.array(list, "apiPaths")) return;
  const paths: ApiPath[] = [];
  for (let i = 0; i < list.items.length; i++) {
    const at = "apiPaths[" + i.toString() + "]";
    const v = list.items[i];
    if (!r.object(v, at, schema.API_PATHS_KEYS)) return;
    const m = readMatch(r, v, at, false);
    const api = r.string(v.get("api"), at + ".api", false, "openai");
    const shape = shapeByName(api);
    if (shape === null) r.fail(at + ".api", "expected one of " + shapeNames() + ", got '" + api + "'");
    else if (m !== null) paths.push(configuredApiPath(m, shape));
  }
  config.apiPaths = paths;
}

/** Exactly one of exact/prefix/suffix/contains (or present: true for headers). */
function readMatch(r: Reader, v: JValue, at: string, allowPresent: bool): StringMatch | null {
  if (v.get("regex") !== null) {
    r.fail(at + ".regex", "regular expressions are not supported; use exact, prefix, suffix or contains");
    return null;
  }
  let found: StringMatch | null = null;
  let count = 0;
  const kinds = ["exact", "prefix", "suffix", "contains"];
  for (let i = 0; i < kinds.length; i++) {
    const x = v.get(kinds[i]);
    if (x === null) continue;
    count++;
    found = new StringMatch(<MatchKind>i, r.string(x, at + "." + kinds[i], true, ""));
  }
  if (allowPresent && v.get("present") !== null) {
    count++;
    if (r.bool(v.get("present"), at + ".present", true)) found = new StringMatch(MatchKind.Present, "");
    else r.fail(at + ".present", "only 'present: true' is meaningful");
  }
  if (count != 1) {
    r.fail(at, "expected exactly one of exact, prefix, suffix, contains" + (allowPresent ? ", present" : ""));
    return null;
  }
  return found;
}

/** Typed reads that record the first error with its field path. */
class Reader {
  error: string = "";

  fail(field: string, message: string): void {
    if (this.error.length == 0) this.error = "invalid configuration: " + field + ": " + message;
  }

  object(v: JValue, at: string, allowed: string[]): bool {
    if (v.type != JType.Object) {
      this.fail(at, "expected an object, got " + v.typeName());
      return false;
    }
    for (let i = 0; i < v.keys.length; i++) {
      if (!allowed.includes(v.keys[i])) {
        this.fail(at + "." + v.keys[i], "unknown field (expected one of " + allowed.join(", ") + ")");
        return false;
      }
    }
    return true;
  }

  array(v: JValue, at: string): bool {
    if (v.type != JType.Array) {
      this.fail(at, "expected an array, got " + v.typeName());
      return false;
    }
    return true;
  }

  string(v: JValue | null, at: string, required: bool, fallback: string): string {
    if (v === null) {
      if (required) this.fail(at, "required");
      return fallback;
    }
    if (v.type != JType.String) {
      this.fail(at, "expected a string, got " + v.typeName());
      return fallback;
    }
    if (required && v.str.length == 0) this.fail(at, "must not be empty");
    return v.str;
  }

  strings(v: JValue | null, at: string, required: bool): string[] {
    const out: string[] = [];
    if (v === null) {
      if (required) this.fail(at, "required");
      return out;
    }
    if (!this.array(v, at)) return out;
    for (let i = 0; i < v.items.length; i++) out.push(this.string(v.items[i], at + "[" + i.toString() + "]", true, ""));
    if (required && out.length == 0) this.fail(at, "must not be empty");
    return out;
  }

  /** An optional list of at most maxItems non-empty strings of at most maxBytes UTF-8 bytes
   *  (checked before anything is copied: a huge list costs one pass, not its copies). */
  boundedStrings(v: JValue | null, at: string, maxItems: i32, maxBytes: i32): string[] {
    if (v === null) return [];
    if (!this.array(v, at)) return [];
    if (v.items.length > maxItems) {
      this.fail(at, "at most " + maxItems.toString() + " entries, got " + v.items.length.toString());
      return [];
    }
    const out = this.strings(v, at, false);
    for (let i = 0; i < out.length; i++) {
      if (String.UTF8.byteLength(out[i]) > maxBytes) this.fail(at + "[" + i.toString() + "]", "longer than " + maxBytes.toString() + " bytes");
    }
    return out;
  }

  bool(v: JValue | null, at: string, fallback: bool): bool {
    if (v === null) return fallback;
    if (v.type != JType.Bool) {
      this.fail(at, "expected true or false, got " + v.typeName());
      return fallback;
    }
    return v.bool;
  }

  int(v: JValue | null, at: string, min: i32, max: i32, fallback: i32): i32 {
    if (v === null) return fallback;
    if (v.type != JType.Number || v.num != Math.floor(v.num) || v.num < <f64>min || v.num > <f64>max) {
      this.fail(at, "expected an integer from " + min.toString() + " to " + max.toString() + ", got " + numberOrType(v));
      return fallback;
    }
    return <i32>v.num;
  }
}

/** What a wrong value was, for the error line: an integer itself, else its kind (printing any
 *  f64 would link the float formatter into the module, 3.5 KB, for one error line). */
function numberOrType(v: JValue): string {
  if (v.type != JType.Number) return v.typeName();
  if (v.num == Math.floor(v.num) && Math.abs(v.num) < 1e15) return (<i64>v.num).toString();
  return v.num == Math.floor(v.num) ? "a number out of range" : "a number with a fraction";
}
