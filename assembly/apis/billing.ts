// How an API shape's token counts map to what its provider bills (cost.ts applies it). The
// counts each shape reports overlap differently:
// - Default (Anthropic Messages, Bedrock Converse and InvokeModel): the prompt count EXCLUDES
//   the tokens read from and written to the prompt cache (input_tokens vs
//   cache_read_input_tokens / cache_creation_input_tokens; inputTokens vs cacheReadInputTokens /
//   cacheWriteInputTokens); the completion count is all billed output.
// - PromptIncludesCached (OpenAI chat/completions/embeddings and Responses, DashScope, Gemini):
//   the prompt count INCLUDES the cached tokens (prompt_tokens_details.cached_tokens,
//   DeepSeek's prompt_cache_hit_tokens, cachedContentTokenCount), so the uncached input is
//   prompt - cached.
// - ReasoningOutsideCompletion (Gemini): candidatesTokenCount EXCLUDES thoughtsTokenCount, yet
//   thoughts are billed as output, so output = candidates + thoughts. (OpenAI, Responses and
//   DashScope count reasoning inside the completion: adding it again would bill it twice.)
// - SummedOverModels (DashScope applications): the counts are sums over every model the app
//   called, each billed at its own price; one row cannot price them, so they count as unpriced.
export const enum Billing {
  Default = 0,
  PromptIncludesCached = 1,
  ReasoningOutsideCompletion = 2,
  SummedOverModels = 4,
}
