// The field ids every API shape maps its JSON paths to. Parsers fill them; the Usage record
// and the rewrite read them. Adding a field is adding a member here (before Count, which moves
// up by one) and rows in the shapes; json/paths.ts MAX_FIELDS is Count, and the build fails
// when it passes 32 (the tries keep fields in u32 bit sets).
export const enum Field {
  Model = 0,
  PromptTokens = 1,
  CompletionTokens = 2,
  TotalTokens = 3,
  CachedTokens = 4,
  ReasoningTokens = 5,
  // request-only fields
  Stream = 6,
  StreamOptions = 7,
  IncludeUsage = 8,
  /** Response-only: a provider error object ({"error": ...} or DashScope's top-level "code"). */
  Error = 9,
  /** Response-only: tokens written to a prompt cache (Anthropic cache_creation_input_tokens,
   *  Bedrock cacheWriteInputTokens); published as filter state only. */
  CacheWriteTokens = 10,
  /** Response-only: generated content in this event (a text or reasoning delta, a candidate):
   *  marks the time to first token; never published. */
  Content = 11,
  /** Response-only: seconds of audio billed by duration (OpenAI transcriptions' `usage.type:
   *  duration`): not tokens, so filter state only, never a counter. */
  AudioSeconds = 12,
  /** Response-only: the shape's finish reason (finish_reason, stop_reason, finishReason,
   *  stopReason, status): asm_llm_proxy_finish_reasons (classify.ts). */
  FinishReason = 13,
  /** Response-only: an error object's code, type or status (OpenAI error.code, Anthropic
   *  error.type, Gemini error.status); a string Error field (DashScope's code) serves too. */
  ErrorCode = 14,
  /** Response-only: an error object's message, for the classes only the words tell. */
  ErrorMessage = 15,
  /** Keep last: the number of fields (json/paths.ts MAX_FIELDS sizes the scanner's tables). */
  Count = 16,
}
