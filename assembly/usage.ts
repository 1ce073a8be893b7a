// The one record that flows from the parsers to the sinks (filter state, counters).
import { JsonScanner, Kind } from "./json/scanner";
import {
  F_MODEL, F_PROMPT_TOKENS, F_COMPLETION_TOKENS, F_TOTAL_TOKENS, F_CACHED_TOKENS, F_REASONING_TOKENS, F_ERROR,
} from "./apis/fields";

export class Usage {
  /** The model sent upstream (after any rewrite). */
  requestModel: Uint8Array | null = null;
  /** The model the provider says answered (OpenAI, Anthropic; DashScope native has none). */
  responseModel: Uint8Array | null = null;
  promptTokens: i64 = -1;
  completionTokens: i64 = -1;
  totalTokens: i64 = -1;
  cachedTokens: i64 = -1;
  reasoningTokens: i64 = -1;
  /** The response carried a provider error object. */
  providerError: bool = false;

  /** Takes every usable value the scanner saw; later values replace earlier ones (running totals). */
  mergeResponse(scanner: JsonScanner): void {
    // Every SSE chunk repeats the model: only a different one is decoded and kept.
    if (!scanner.stringEquals(F_MODEL, this.responseModel)) {
      const model = scanner.string(F_MODEL);
      if (model !== null && model.length > 0) this.responseModel = model;
    }
    this.promptTokens = pick(scanner.count(F_PROMPT_TOKENS), this.promptTokens);
    this.completionTokens = pick(scanner.count(F_COMPLETION_TOKENS), this.completionTokens);
    this.totalTokens = pick(scanner.count(F_TOTAL_TOKENS), this.totalTokens);
    this.cachedTokens = pick(scanner.count(F_CACHED_TOKENS), this.cachedTokens);
    this.reasoningTokens = pick(scanner.count(F_REASONING_TOKENS), this.reasoningTokens);
    // An error object or code; null, false and "" (DashScope's success bodies may carry
    // "code": "") are no error.
    if (scanner.has(F_ERROR)) {
      const kind = scanner.kind[F_ERROR];
      if (kind == Kind.String ? scanner.names(F_ERROR) : kind != Kind.Null && kind != Kind.False) this.providerError = true;
    }
  }

  get hasTokens(): bool {
    return this.promptTokens >= 0 || this.completionTokens >= 0;
  }

  /** Total tokens as the provider said, else prompt + completion when both are known. */
  get total(): i64 {
    if (this.totalTokens >= 0) return this.totalTokens;
    if (this.promptTokens >= 0 && this.completionTokens >= 0) return this.promptTokens + this.completionTokens;
    return -1;
  }

  /** The model for labels: the one sent upstream, else the one that answered. */
  get model(): Uint8Array | null {
    const m = this.requestModel;
    return m !== null && m.length > 0 ? m : this.responseModel;
  }
}

// @ts-ignore: decorator
@inline
function pick(next: i64, current: i64): i64 {
  return next >= 0 ? next : current;
}
