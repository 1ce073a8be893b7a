// OpenAI Responses API (POST /v1/responses; Azure /openai/v1/responses). JSON: top-level
// model and usage {input_tokens, output_tokens, total_tokens, input_tokens_details.cached_tokens,
// output_tokens_details.reasoning_tokens}. Streaming: `event:` + `data:` pairs whose data is
// {"type": ..., "response": {...}} for response.created / in_progress / completed / failed /
// incomplete; the usage is in response.completed's response.usage (null before). A mid-stream
// `event: error` carries {"type":"error","code":...}. input_tokens includes cached tokens.
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";
import { Billing } from "./billing";

export const responses = new ApiShape("responses")
  .path(MatchKind.Suffix, "/responses")
  .authBy(Auth.Bearer)
  .billedAs(Billing.PromptIncludesCached)
  .requestField("model", Field.Model)
  .requestField("stream", Field.Stream)
  .responseField("model", Field.Model)
  .responseField("response.model", Field.Model)
  .responseField("usage.input_tokens", Field.PromptTokens)
  .responseField("usage.output_tokens", Field.CompletionTokens)
  .responseField("usage.total_tokens", Field.TotalTokens)
  .responseField("usage.input_tokens_details.cached_tokens", Field.CachedTokens)
  .responseField("usage.output_tokens_details.reasoning_tokens", Field.ReasoningTokens)
  .responseField("response.usage.input_tokens", Field.PromptTokens)
  .responseField("response.usage.output_tokens", Field.CompletionTokens)
  .responseField("response.usage.total_tokens", Field.TotalTokens)
  .responseField("response.usage.input_tokens_details.cached_tokens", Field.CachedTokens)
  .responseField("response.usage.output_tokens_details.reasoning_tokens", Field.ReasoningTokens)
  // {"error": {...}} on a JSON body; response.failed's response.error; `event: error`'s "code".
  .responseField("error", Field.Error)
  .responseField("response.error", Field.Error)
  .responseField("code", Field.Error)
  .responseField("error.code", Field.ErrorCode)
  .responseField("response.error.code", Field.ErrorCode)
  .responseField("error.message", Field.ErrorMessage)
  .responseField("response.error.message", Field.ErrorMessage)
  .responseField("message", Field.ErrorMessage)
  // status "completed"; an incomplete response's reason (max_output_tokens, content_filter)
  // comes after it in the object and so wins
  .responseField("status", Field.FinishReason)
  .responseField("response.status", Field.FinishReason)
  .responseField("incomplete_details.reason", Field.FinishReason)
  .responseField("response.incomplete_details.reason", Field.FinishReason)
  // response.output_text.delta, response.reasoning_summary_text.delta, ...: generated content
  .responseField("delta", Field.Content);
