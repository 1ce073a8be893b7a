// Amazon Bedrock runtime. The model id is in the path, percent-encoded
// (`/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse`). Requests are signed with
// SigV4, so the filter cannot inject a key (Auth.None).
// - Converse (`/converse`): {"usage": {"inputTokens", "outputTokens", "totalTokens",
//   "cacheReadInputTokens", "cacheWriteInputTokens"}}; inputTokens excludes cache reads/writes.
//   `/converse-stream` answers in the binary application/vnd.amazon.eventstream framing, which
//   the filter does not read (counted as unparsed, reason event_stream).
// - InvokeModel (`/invoke`): the model's own body; for Anthropic models the Messages API body.
import { ApiShape, Auth } from "./shape";
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
  .responseField("stopReason", Field.FinishReason)
  // Bedrock errors are {"message": "..."} (the class is in the x-amzn-errortype header); a
  // Converse success has output.message
  .responseField("message", Field.Error);

export const bedrockInvoke = anthropicResponse(new ApiShape("bedrock-invoke")
  .path(MatchKind.Suffix, "/invoke")
  .path(MatchKind.Suffix, "/invoke-with-response-stream")
  .modelInPath("/model/", "/")
  .streamsByPath("/invoke-with-response-stream")
  .authBy(Auth.None));
