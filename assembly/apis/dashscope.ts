// Alibaba DashScope native API (text-generation and multimodal-generation). The response has no
// model; usage is input_tokens/output_tokens (input_tokens includes cached tokens, reported as
// usage.prompt_tokens_details.cached_tokens, or on some models a flat usage.cached_tokens;
// thinking models add output_tokens_details.reasoning_tokens). Streaming (X-DashScope-SSE:
// enable or Accept: text/event-stream) repeats the usage in every event as a running total:
// take the last, never sum.
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";
import { Billing } from "./billing";

export const dashscope = new ApiShape("dashscope")
  .path(MatchKind.Suffix, "/api/v1/services/aigc/text-generation/generation")
  .path(MatchKind.Suffix, "/api/v1/services/aigc/multimodal-generation/generation")
  .streamsByHeader()
  .authBy(Auth.Bearer)
  .billedAs(Billing.PromptIncludesCached)
  .requestField("model", Field.Model)
  .responseField("usage.input_tokens", Field.PromptTokens)
  .responseField("usage.output_tokens", Field.CompletionTokens)
  .responseField("usage.total_tokens", Field.TotalTokens)
  .responseField("usage.cached_tokens", Field.CachedTokens)
  .responseField("usage.prompt_tokens_details.cached_tokens", Field.CachedTokens)
  .responseField("usage.output_tokens_details.reasoning_tokens", Field.ReasoningTokens)
  .responseField("code", Field.Error)
  .responseField("message", Field.ErrorMessage)
  .responseField("output.finish_reason", Field.FinishReason)
  .responseField("output.choices.[].finish_reason", Field.FinishReason)
  .responseField("output.text", Field.Content)
  .responseField("output.choices.[].message.content", Field.Content)
  .responseField("output.choices.[].message.reasoning_content", Field.Content);
