// The price table: pluginConfig `pricing`, parsed once in on_configure, and the lookup of a
// model's prices per request. Prices are kept as integers, micro-units of the currency per
// million tokens (= pico-units per token), so the cost of a request is exact integer
// arithmetic (cost.ts) and never a float rounding away a fraction of a cent.
//
//   "pricing": {"currency": "USD", "models": [
//     {"model": "gpt-4o-mini*", "input": 0.15, "cachedInput": 0.075, "output": 0.6},
//     {"model": "claude-sonnet-4*", "input": 3, "cachedInput": 0.3, "cacheWrite": 3.75, "output": 15}]}
//
// A `model` ending in `*` is a prefix, anything else an exact name; the first row that matches
// wins. Bounds, each enforced here: MAX_PRICE_ROWS rows, MAX_PRICE per million tokens, six
// decimal places, model patterns of at most MAX_PATTERN_BYTES.
import * as schema from "./config-schema";
import { JType, JValue } from "./json/value";

/** Rows in a price table. 10,000 rows (~1 MB of JSON) configure in ~0.1 s and grow a VM's
 *  linear memory to ~25 MiB, most of it the configuration's JSON tree while it is read
 *  (tests/pricing.test.ts reports both); past this the table is a data store, not a config. */
export const MAX_PRICE_ROWS: i32 = schema.PRICING_MODELS_MAX_ITEMS;
/** Largest price, in currency units per million tokens: one unit per token. With token counts
 *  below 10^9 (json/scanner.ts MAX_COUNT) this keeps cost.ts's products below 2^63. */
export const MAX_PRICE: i64 = 1_000_000;
/** Prices are stored in millionths of a unit per million tokens. */
export const PRICE_SCALE: i64 = 1_000_000;
export const MAX_PATTERN_BYTES: i32 = 256;
/** Model names whose price row is remembered per VM (a hit skips the scan of the prefixes). */
const LOOKUP_CACHE_MAX: i32 = 1024;
const MAX_CURRENCY_BYTES: i32 = 16;

/** One row: prices in micro-units per million tokens (= pico-units per token). */
export class PriceRow {
  constructor(
    public pattern: string,
    public prefix: bool,
    public input: i64,
    public cachedInput: i64,
    public cacheWrite: i64,
    public output: i64,
  ) {}
}

export class Pricing {
  currency: string = "USD";
  rows: PriceRow[] = [];
  /** Exact names -> index of the first row naming them. */
  private exact: Map<string, i32> = new Map<string, i32>();
  /** Indexes of the prefix rows, in table order. */
  private prefixes: i32[] = [];
  /** Model -> row index (-1: unpriced); cleared when full, so bounded by LOOKUP_CACHE_MAX. */
  private cache: Map<string, i32> = new Map<string, i32>();

  get enabled(): bool {
    return this.rows.length > 0;
  }

  add(row: PriceRow): void {
    const index = this.rows.length;
    this.rows.push(row);
    if (row.prefix) this.prefixes.push(index);
    else if (!this.exact.has(row.pattern)) this.exact.set(row.pattern, index);
  }

  /** The first row matching `model`, or null: the first exact row, unless a prefix row comes
   *  before it in the table. */
  lookup(model: string): PriceRow | null {
    if (this.cache.has(model)) {
      const cached = this.cache.get(model);
      return cached >= 0 ? unchecked(this.rows[cached]) : null;
    }
    let found: i32 = this.exact.has(model) ? this.exact.get(model) : -1;
    for (let i = 0; i < this.prefixes.length; i++) {
      const index = unchecked(this.prefixes[i]);
      if (found >= 0 && index > found) break; // the exact row comes first
      if (model.startsWith(unchecked(this.rows[index]).pattern)) {
        found = index;
        break;
      }
    }
    if (this.cache.size >= LOOKUP_CACHE_MAX) this.cache.clear();
    this.cache.set(model, found);
    return found >= 0 ? unchecked(this.rows[found]) : null;
  }
}

/** A Pricing, or the first error with the field it concerns (config.ts prefixes it). */
export class PricingResult {
  pricing: Pricing = new Pricing();
  field: string = "";
  message: string = "";

  fail(field: string, message: string): void {
    if (this.field.length == 0) {
      this.field = field;
      this.message = message;
    }
  }

  get failed(): bool {
    return this.field.length > 0;
  }
}

const TOP_KEYS = schema.PRICING_KEYS;
const ROW_KEYS = schema.PRICING_MODELS_KEYS;

export function parsePricing(v: JValue): PricingResult {
  const r = new PricingResult();
  if (!object(r, v, "pricing", TOP_KEYS)) return r;
  const currency = v.get("currency");
  if (currency !== null) {
    if (currency.type != JType.String || currency.str.length == 0 || currency.str.length > MAX_CURRENCY_BYTES || !printable(currency.str)) {
      r.fail("pricing.currency", "expected a currency name of 1 to " + MAX_CURRENCY_BYTES.toString() + " printable ASCII characters");
      return r;
    }
    r.pricing.currency = currency.str;
  }
  const models = v.get("models");
  if (models === null) {
    r.fail("pricing.models", "required");
    return r;
  }
  if (models.type != JType.Array) {
    r.fail("pricing.models", "expected an array, got " + models.typeName());
    return r;
  }
  if (models.items.length > MAX_PRICE_ROWS) {
    r.fail("pricing.models", "at most " + MAX_PRICE_ROWS.toString() + " rows, got " + models.items.length.toString());
    return r;
  }
  for (let i = 0; i < models.items.length; i++) {
    const at = "pricing.models[" + i.toString() + "]";
    const row = models.items[i];
    if (!object(r, row, at, ROW_KEYS)) return r;
    const m = row.get("model");
    if (m === null || m.type != JType.String || m.str.length == 0) {
      r.fail(at + ".model", m === null ? "required" : "expected a non-empty model name or prefix ending in '*'");
      return r;
    }
    let pattern = m.str;
    const prefix = pattern.endsWith("*");
    if (prefix) pattern = pattern.substring(0, pattern.length - 1);
    if (pattern.includes("*")) {
      r.fail(at + ".model", "'*' is only allowed at the end (a prefix), got '" + m.str + "'");
      return r;
    }
    if (String.UTF8.byteLength(pattern) > MAX_PATTERN_BYTES) {
      r.fail(at + ".model", "at most " + MAX_PATTERN_BYTES.toString() + " bytes");
      return r;
    }
    const input = price(r, row.get("input"), at + ".input", true, 0);
    const output = price(r, row.get("output"), at + ".output", true, 0);
    // Without a separate price, cached and cache-written input cost what input costs.
    const cachedInput = price(r, row.get("cachedInput"), at + ".cachedInput", false, input);
    const cacheWrite = price(r, row.get("cacheWrite"), at + ".cacheWrite", false, input);
    if (r.failed) return r;
    r.pricing.add(new PriceRow(pattern, prefix, input, cachedInput, cacheWrite, output));
  }
  return r;
}

function object(r: PricingResult, v: JValue, at: string, allowed: string[]): bool {
  if (v.type != JType.Object) {
    r.fail(at, "expected an object, got " + v.typeName());
    return false;
  }
  for (let i = 0; i < v.keys.length; i++) {
    if (!allowed.includes(v.keys[i])) {
      r.fail(at + "." + v.keys[i], "unknown field (expected one of " + allowed.join(", ") + ")");
      return false;
    }
  }
  return true;
}

/** A price per million tokens as micro-units, or `fallback` when absent and optional. */
function price(r: PricingResult, v: JValue | null, at: string, required: bool, fallback: i64): i64 {
  if (v === null) {
    if (required) r.fail(at, "required");
    return fallback;
  }
  const expected = "expected a number >= 0 and <= " + MAX_PRICE.toString() + " (currency units per million tokens) with at most 6 decimal places";
  if (v.type != JType.Number || !(v.num >= 0) || v.num > <f64>MAX_PRICE) {
    r.fail(at, expected);
    return fallback;
  }
  const scaled = v.num * <f64>PRICE_SCALE;
  const rounded = Math.round(scaled);
  // 0.075 is 75000.00000000001 once scaled: a binary fraction's noise, not a 7th decimal.
  if (Math.abs(scaled - rounded) > 1e-3) {
    r.fail(at, expected);
    return fallback;
  }
  return <i64>rounded;
}

function printable(s: string): bool {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x21 || c > 0x7e) return false;
  }
  return true;
}
