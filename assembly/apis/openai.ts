// OpenAI chat completions, completions and embeddings (and every OpenAI-compatible backend:
// Azure OpenAI deployments, DashScope compatible-mode, DeepSeek, Groq, OpenRouter, vLLM,
// Ollama...). Streaming usage arrives in the final chunk before `data: [DONE]` when the request
// sets stream_options.include_usage (earlier chunks carry "usage": null, which fills nothing);
// some backends put it on the finish chunk itself, after it with non-empty choices, inside
// choices[i].usage, or under x_groq.usage. prompt_tokens includes cached prompt tokens.
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";
import { Billing } from "./billing";

export const openai = new ApiShape("openai")
  .path(MatchKind.Suffix, "/chat/completions")
  .path(MatchKind.Suffix, "/completions")
  .path(MatchKind.Suffix, "/embeddings")
  .authBy(Auth.Bearer)
  .billedAs(Billing.PromptIncludesCached)
  .withIncludeUsage()
  // Embedding servers that send only usage.total_tokens (OpenAI's own send prompt_tokens too).
  .totalIsPrompt("/embeddings")
  .requestField("model", Field.Model)
  .requestField("stream", Field.Stream)
  .requestField("stream_options", Field.StreamOptions)
  .requestField("stream_options.include_usage", Field.IncludeUsage)
  .responseField("model", Field.Model)
  // Groq's stream (x_groq.usage) and a few vLLM-derived servers (choices[i].usage) put the
  // usage elsewhere; the top-level usage, when also present, comes later in their chunks.
  .responseField("x_groq.usage.prompt_tokens", Field.PromptTokens)
  .responseField("x_groq.usage.completion_tokens", Field.CompletionTokens)
  .responseField("x_groq.usage.total_tokens", Field.TotalTokens)
  .responseField("choices.[].usage.prompt_tokens", Field.PromptTokens)
  .responseField("choices.[].usage.completion_tokens", Field.CompletionTokens)
  .responseField("choices.[].usage.total_tokens", Field.TotalTokens)
  .responseField("usage.prompt_tokens", Field.PromptTokens)
  .responseField("usage.completion_tokens", Field.CompletionTokens)
  .responseField("usage.total_tokens", Field.TotalTokens)
  // DeepSeek: prompt_cache_hit_tokens (its prompt_tokens = hit + miss); OpenAI and DashScope
  // compatible-mode: prompt_tokens_details.cached_tokens (may be null).
  .responseField("usage.prompt_cache_hit_tokens", Field.CachedTokens)
  .responseField("usage.prompt_tokens_details.cached_tokens", Field.CachedTokens)
  .responseField("usage.completion_tokens_details.reasoning_tokens", Field.ReasoningTokens)
  .responseField("error", Field.Error)
  .responseField("error.code", Field.ErrorCode)
  .responseField("error.message", Field.ErrorMessage)
  .responseField("choices.[].finish_reason", Field.FinishReason)
  // generated content, for the time to first token (the first chunk's "content": "" is none)
  .responseField("choices.[].delta.content", Field.Content)
  .responseField("choices.[].delta.reasoning_content", Field.Content)
  .responseField("choices.[].delta.tool_calls", Field.Content)
  .responseField("choices.[].text", Field.Content);
