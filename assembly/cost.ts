// The cost of one request: its Usage, read with its API shape's token semantics
// (apis/billing.ts), times a price row (pricing.ts). Exact integer arithmetic:
//   cost [pico-units] = sum over token kinds of tokens x price [micro-units per Mtok]
// kept as whole micro-units plus a remainder of pico-units (0..999,999), so nothing is rounded
// per request; the counter carries the remainder over to the next request (telemetry/metrics.ts).
//
// Overflow: each count is < 10^9 (json/scanner.ts MAX_COUNT; Gemini's output is a sum of two,
// < 2x10^9) and each price <= 10^12 micro-units per Mtok (pricing.ts MAX_PRICE). A term is split
// as tokens = q x 10^6 + r: q x price < 2x10^3 x 10^12 and r x price < 10^6 x 10^12 = 10^18,
// each below 2^63 (9.2x10^18), and the sums of four terms stay below 2^53 micro-units. Any
// other count (negative = unknown) contributes nothing.
import { Usage } from "./usage";
import { Billing } from "./apis/billing";
import { PriceRow } from "./pricing";

const MILLION: i64 = 1_000_000;

export class Cost {
  /** Whole micro-units of the currency. */
  micros: i64 = 0;
  /** The fraction of a micro-unit below that, in pico-units: 0..999,999. */
  picos: i64 = 0;

  add(tokens: i64, price: i64): void {
    if (tokens <= 0 || price <= 0) return;
    const q = tokens / MILLION;
    const r = tokens % MILLION;
    const fine = r * price;
    this.micros += q * price + fine / MILLION;
    this.picos += fine % MILLION;
    if (this.picos >= MILLION) {
      this.micros += this.picos / MILLION;
      this.picos %= MILLION;
    }
  }

  /** In currency units, exact: "0.0012345" (at most 12 decimals, no trailing zeros). */
  toDecimal(): string {
    const units = this.micros / MILLION;
    const fraction = pad6(this.micros % MILLION) + pad6(this.picos);
    let end = fraction.length;
    while (end > 0 && fraction.charCodeAt(end - 1) == 0x30) end--;
    return end == 0 ? units.toString() : units.toString() + "." + fraction.substring(0, end);
  }
}

/** The billed token counts of a request under its shape's semantics. */
export class BilledTokens {
  input: i64 = 0;
  cachedInput: i64 = 0;
  cacheWrite: i64 = 0;
  output: i64 = 0;
}

export function billedTokens(usage: Usage, billing: u32): BilledTokens {
  const t = new BilledTokens();
  const prompt = max<i64>(usage.promptTokens, 0);
  const cached = max<i64>(usage.cachedTokens, 0);
  t.cachedInput = cached;
  // Cached tokens inside the prompt count: the rest is uncached (never below zero, should a
  // provider report more cached than prompt tokens).
  t.input = (billing & Billing.PromptIncludesCached) != 0 ? max<i64>(prompt - cached, 0) : prompt;
  t.cacheWrite = max<i64>(usage.cacheWriteTokens, 0);
  t.output = max<i64>(usage.completionTokens, 0);
  if ((billing & Billing.ReasoningOutsideCompletion) != 0) t.output += max<i64>(usage.reasoningTokens, 0);
  return t;
}

export function costOf(usage: Usage, billing: u32, row: PriceRow): Cost {
  const t = billedTokens(usage, billing);
  const c = new Cost();
  c.add(t.input, row.input);
  c.add(t.cachedInput, row.cachedInput);
  c.add(t.cacheWrite, row.cacheWrite);
  c.add(t.output, row.output);
  return c;
}

function pad6(v: i64): string {
  const s = v.toString();
  return "000000".substring(0, 6 - s.length) + s;
}
