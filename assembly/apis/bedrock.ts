// Amazon Bedrock runtime. The model id is in the path, percent-encoded
// (`/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse`). Requests are signed with
// SigV4, so the filter cannot inject a key (Auth.None).
// - Converse (`/converse`): {"usage": {"inputTokens", "outputTokens", "totalTokens",
//   "cacheReadInputTokens", "cacheWriteInputTokens"}}; inputTokens excludes cache reads/writes.
//   `/converse-stream` answers in the binary application/vnd.amazon.eventstream framing
//   (eventstream-body.ts): each event's payload is its JSON; the `metadata` event carries the
//   same `usage` object, `contentBlockDelta` the generated text.
// - InvokeModel (`/invoke`): the model's own body; for Anthropic models the Messages API body.
//   Every model's counts also come in the response headers x-amzn-bedrock-input-token-count /
//   -output-token-count (token-headers.ts), the only counts for Titan, Cohere embed, Llama and
//   Mistral bodies that carry no usage the shape reads; the headers win over the body.
// - `/invoke-with-response-stream`: event stream `chunk` events whose payload's `bytes` is
//   base64 of the model's own JSON (Anthropic's message_start / message_delta); the last chunk
//   of every model carries `amazon-bedrock-invocationMetrics` with Bedrock's own counts, which,
//   coming last, win.
import { ApiShape, Auth, EventPayload } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";
import { anthropicResponse } from "./anthropic";

export const bedrockConverse = new ApiShape("bedrock-converse")
  .path(MatchKind.Suffix, "/converse")
  .path(MatchKind.Suffix, "/converse-stream")
  .modelInPath("/model/", "/")
  .streamsByPath("/converse-stream")
  .authBy(Auth.None)
  .responseField("usage.inputTokens", Field.PromptTokens)
  .responseField("usage.outputTokens", Field.CompletionTokens)
  .responseField("usage.totalTokens", Field.TotalTokens)
  .responseField("usage.cacheReadInputTokens", Field.CachedTokens)
  .responseField("usage.cacheWriteInputTokens", Field.CacheWriteTokens)
  .responseField("delta.text", Field.Content) // converse-stream contentBlockDelta
  .responseField("delta.reasoningContent.text", Field.Content)
  .responseField("delta.toolUse.input", Field.Content)
  .responseField("stopReason", Field.FinishReason)
  // Bedrock errors are {"message": "..."} (the class is in the x-amzn-errortype header); a
  // Converse success has output.message
  .responseField("message", Field.Error);

export const bedrockInvoke = anthropicResponse(new ApiShape("bedrock-invoke")
  .path(MatchKind.Suffix, "/invoke")
  .path(MatchKind.Suffix, "/invoke-with-response-stream")
  .modelInPath("/model/", "/")
  .streamsByPath("/invoke-with-response-stream")
  .eventPayloadIn(EventPayload.Base64Bytes)
  .withCountHeaders()
  .authBy(Auth.None))
  .responseField("amazon-bedrock-invocationMetrics.inputTokenCount", Field.PromptTokens)
  .responseField("amazon-bedrock-invocationMetrics.outputTokenCount", Field.CompletionTokens)
  .responseField("amazon-bedrock-invocationMetrics.cacheReadInputTokenCount", Field.CachedTokens)
  .responseField("amazon-bedrock-invocationMetrics.cacheWriteInputTokenCount", Field.CacheWriteTokens)
  // Titan's stream chunks carry outputText
  .responseField("outputText", Field.Content);
