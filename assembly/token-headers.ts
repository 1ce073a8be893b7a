// Bedrock's token counts in response headers: every InvokeModel answer carries
// x-amzn-bedrock-input-token-count and x-amzn-bedrock-output-token-count (Bedrock's own
// metering, the numbers it bills), whatever the model's body says; models with prompt caching
// add x-amzn-bedrock-cache-read-input-token-count / -cache-write-input-token-count. For Titan, Cohere embed,
// Llama and Mistral bodies they are the only counts the filter can read. A value is a plain
// decimal of at most MAX_DIGITS digits (below 10^9, as a body count: json/scanner.ts);
// anything else (sign, blank, hex, overflow) is ignored, never a trap.
import { headerValue, HeaderMap } from "./envoy";
import { Usage } from "./usage";

const H_INPUT = String.UTF8.encode("x-amzn-bedrock-input-token-count");
const H_OUTPUT = String.UTF8.encode("x-amzn-bedrock-output-token-count");
const H_CACHE_READ = String.UTF8.encode("x-amzn-bedrock-cache-read-input-token-count");
const H_CACHE_WRITE = String.UTF8.encode("x-amzn-bedrock-cache-write-input-token-count");
const MAX_DIGITS = 9;

/** Counts read from the response headers, -1 where absent or not a count. */
export class HeaderCounts {
  prompt: i64 = -1;
  completion: i64 = -1;
  cached: i64 = -1;
  cacheWrite: i64 = -1;

  get any(): bool {
    return this.prompt >= 0 || this.completion >= 0;
  }

  /** The headers win over the body's values: they are Bedrock's metering, and a body may report
   *  only part (Titan embeddings: input only) or nothing. */
  applyTo(usage: Usage): void {
    if (this.prompt >= 0) usage.promptTokens = this.prompt;
    if (this.completion >= 0) usage.completionTokens = this.completion;
    if (this.cached >= 0) usage.cachedTokens = this.cached;
    if (this.cacheWrite >= 0) usage.cacheWriteTokens = this.cacheWrite;
  }
}

export function readHeaderCounts(): HeaderCounts {
  const out = new HeaderCounts();
  out.prompt = parseHeaderCount(headerValue(HeaderMap.Response, H_INPUT));
  out.completion = parseHeaderCount(headerValue(HeaderMap.Response, H_OUTPUT));
  out.cached = parseHeaderCount(headerValue(HeaderMap.Response, H_CACHE_READ));
  out.cacheWrite = parseHeaderCount(headerValue(HeaderMap.Response, H_CACHE_WRITE));
  return out;
}

/** A header value as a count: 1 to MAX_DIGITS ASCII digits, nothing else; else -1. */
export function parseHeaderCount(value: string | null): i64 {
  if (value === null) return -1;
  const n = value.length;
  if (n == 0 || n > MAX_DIGITS) return -1;
  let v: i64 = 0;
  for (let i = 0; i < n; i++) {
    const d = <i32>value.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + <i64>d;
  }
  return v;
}
