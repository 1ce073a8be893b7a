// The one record that flows from the parsers to the sinks (filter state, counters, histograms):
// model, token counts and timings of one request.
import { JsonScanner, Kind } from "./json/scanner";
import { Field } from "./apis/fields";
import { FinishReason, normaliseFinishReason } from "./classify";

export class Usage {
  /** The model sent upstream (after any rewrite), from the body or the URL path. */
  requestModel: Uint8Array | null = null;
  /** The model the provider says answered (OpenAI, Anthropic, Gemini modelVersion; DashScope
   *  native and Bedrock Converse have none). */
  responseModel: Uint8Array | null = null;
  promptTokens: i64 = -1;
  completionTokens: i64 = -1;
  totalTokens: i64 = -1;
  /** Prompt tokens served from a provider's prompt cache (see docs/api-shapes.md per provider). */
  cachedTokens: i64 = -1;
  /** Prompt tokens written to a prompt cache (Anthropic, Bedrock). */
  cacheWriteTokens: i64 = -1;
  /** Output tokens spent on reasoning (OpenAI o-series, Gemini thoughts, DashScope thinking). */
  reasoningTokens: i64 = -1;
  /** Seconds of audio a duration-billed response reports (Field.AudioSeconds); not tokens. */
  audioSeconds: i64 = -1;
  /** Set from the shape at request time: a response with only a total has it as its prompt
   *  (embeddings). */
  totalIsPrompt: bool = false;
  /** The API shape's Billing flags (apis/billing.ts), for the cost. */
  billing: u32 = 0;
  /** The response carried a provider error object. */
  providerError: bool = false;
  /** The response's HTTP status (0 before its headers). */
  status: i32 = 0;
  /** Envoy's response flags (the `response.flags` attribute), read when a stream was cut off. */
  responseFlags: u64 = 0;
  /** The last finish reason the response gave (classify.ts). */
  finishReason: FinishReason = FinishReason.None;
  /** The finish-reason value last decoded, as the provider wrote it. */
  private finishRaw: Uint8Array | null = null;
  /** An error's code/type/status and message as the provider wrote them (at most the scanner's
   *  CAPTURE_BYTES each), or the x-amzn-errortype header: for classify.ts. */
  errorCode: string = "";
  errorMessage: string = "";

  // Host clock (ns), 0 = not seen.
  /** When the request headers arrived. */
  startNs: i64 = 0;
  /** When the first response body bytes carrying an event or document arrived. */
  firstTokenNs: i64 = 0;
  /** When the response ended. */
  endNs: i64 = 0;

  /** Takes every usable value the scanner saw; later values replace earlier ones (running totals). */
  mergeResponse(scanner: JsonScanner): void {
    // Every SSE chunk repeats the model: only a different one is decoded and kept.
    if (!scanner.stringEquals(Field.Model, this.responseModel)) {
      const model = scanner.string(Field.Model);
      if (model !== null && model.length > 0) this.responseModel = model;
    }
    this.promptTokens = pick(scanner.count(Field.PromptTokens), this.promptTokens);
    this.completionTokens = pick(scanner.count(Field.CompletionTokens), this.completionTokens);
    this.totalTokens = pick(scanner.count(Field.TotalTokens), this.totalTokens);
    this.cachedTokens = pick(scanner.count(Field.CachedTokens), this.cachedTokens);
    this.cacheWriteTokens = pick(scanner.count(Field.CacheWriteTokens), this.cacheWriteTokens);
    this.reasoningTokens = pick(scanner.count(Field.ReasoningTokens), this.reasoningTokens);
    this.audioSeconds = pick(scanner.count(Field.AudioSeconds), this.audioSeconds);
    if (this.totalIsPrompt && this.promptTokens < 0) this.promptTokens = this.totalTokens;
    // An error object or code; null, false and "" (DashScope's success bodies may carry
    // "code": "") are no error.
    if (scanner.has(Field.Error)) {
      const kind = scanner.kind[Field.Error];
      if (kind == Kind.String ? scanner.names(Field.Error) : kind != Kind.Null && kind != Kind.False) this.providerError = true;
      // DashScope's top-level "code", the Responses API's error event "code", Bedrock's "message"
      if (kind == Kind.String) {
        const said = text(scanner.string(Field.Error));
        if (this.errorCode.length == 0) this.errorCode = said;
        if (this.errorMessage.length == 0) this.errorMessage = said;
      }
    }
    if (scanner.names(Field.ErrorCode)) this.errorCode = text(scanner.string(Field.ErrorCode));
    if (scanner.names(Field.ErrorMessage)) this.errorMessage = text(scanner.string(Field.ErrorMessage));
    // DashScope repeats "finish_reason":"null" in every event: only a different value is decoded.
    if (scanner.names(Field.FinishReason) && !scanner.stringEquals(Field.FinishReason, this.finishRaw)) {
      const raw = scanner.string(Field.FinishReason);
      this.finishRaw = raw;
      const reason = normaliseFinishReason(text(raw));
      if (reason != FinishReason.None) this.finishReason = reason;
    }
  }

  get hasTokens(): bool {
    return this.promptTokens >= 0 || this.completionTokens >= 0;
  }

  /** The response reported its usage: tokens, or (audio billed by duration) seconds. */
  get hasUsage(): bool {
    return this.hasTokens || this.audioSeconds >= 0;
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

  /** Request start to response end, in ms; -1 when unknown. */
  get durationMs(): i64 {
    return this.startNs > 0 && this.endNs >= this.startNs ? (this.endNs - this.startNs) / 1_000_000 : -1;
  }

  /** Request start to the first generated content, in ms; -1 when unknown. */
  get timeToFirstTokenMs(): i64 {
    return this.startNs > 0 && this.firstTokenNs >= this.startNs ? (this.firstTokenNs - this.startNs) / 1_000_000 : -1;
  }

  /** Generation time after the first token per further output token, in ms (OpenTelemetry
   *  gen_ai.server.time_per_output_token); -1 without two or more completion tokens. */
  get timePerOutputTokenMs(): i64 {
    const n = this.completionTokens;
    if (n < 2 || this.firstTokenNs <= 0 || this.endNs < this.firstTokenNs) return -1;
    return ((this.endNs - this.firstTokenNs) / (n - 1) + 500_000) / 1_000_000; // rounded to the ms
  }
}

function text(bytes: Uint8Array | null): string {
  return bytes === null ? "" : String.UTF8.decodeUnsafe(bytes.dataStart, bytes.length);
}

// @ts-ignore: decorator
@inline
function pick(next: i64, current: i64): i64 {
  return next >= 0 ? next : current;
}
