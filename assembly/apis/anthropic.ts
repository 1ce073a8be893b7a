// Anthropic Messages API (/v1/messages), which several gateways also expose. Streaming:
// message_start carries message.model and message.usage.input_tokens; message_delta carries
// usage.output_tokens as a running total. Both paths fill the same fields; the last wins.
// input_tokens EXCLUDES cached tokens: the prompt read from cache is cache_read_input_tokens,
// the prompt written to it cache_creation_input_tokens (Anthropic "prompt caching" docs).
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";

/** The Messages API response fields; Bedrock's InvokeModel returns the same body. */
export function anthropicResponse(shape: ApiShape): ApiShape {
  return shape
    .responseField("model", Field.Model)
    .responseField("message.model", Field.Model)
    .responseField("usage.input_tokens", Field.PromptTokens)
    .responseField("message.usage.input_tokens", Field.PromptTokens)
    .responseField("usage.output_tokens", Field.CompletionTokens)
    .responseField("message.usage.output_tokens", Field.CompletionTokens)
    .responseField("usage.cache_read_input_tokens", Field.CachedTokens)
    .responseField("message.usage.cache_read_input_tokens", Field.CachedTokens)
    .responseField("usage.cache_creation_input_tokens", Field.CacheWriteTokens)
    .responseField("message.usage.cache_creation_input_tokens", Field.CacheWriteTokens)
    .responseField("error", Field.Error)
    .responseField("error.type", Field.ErrorCode)
    .responseField("error.message", Field.ErrorMessage)
    .responseField("stop_reason", Field.FinishReason)
    .responseField("delta.stop_reason", Field.FinishReason)
    // content_block_delta: text_delta, thinking_delta, input_json_delta
    .responseField("delta.text", Field.Content)
    .responseField("delta.thinking", Field.Content)
    .responseField("delta.partial_json", Field.Content);
}

export const anthropic = anthropicResponse(new ApiShape("anthropic")
  .path(MatchKind.Suffix, "/v1/messages")
  .authBy(Auth.XApiKey)
  .requestField("model", Field.Model)
  .requestField("stream", Field.Stream));
