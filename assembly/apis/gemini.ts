// Google Gemini: AI Studio `/v1beta/models/{model}:generateContent` and Vertex AI
// `/v1/projects/{p}/locations/{l}/publishers/google/models/{model}:generateContent`, and
// `:streamGenerateContent` for streams: with `?alt=sse` an SSE stream (CRLF line ends, no
// [DONE]); without it one JSON array whose elements arrive over time. The model is in the
// URL path; `modelVersion` names the one that answered. usageMetadata is cumulative per chunk
// (the last wins): promptTokenCount (includes cachedContentTokenCount), candidatesTokenCount
// (EXCLUDES thoughtsTokenCount), totalTokenCount, cachedContentTokenCount, thoughtsTokenCount.
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";
import { Billing } from "./billing";

export const gemini = new ApiShape("gemini")
  .path(MatchKind.Suffix, ":generateContent")
  .path(MatchKind.Suffix, ":streamGenerateContent")
  .modelInPath("/models/", ":/")
  .streamsByPath(":streamGenerateContent")
  .authBy(Auth.GoogApiKey)
  .billedAs(Billing.PromptIncludesCached | Billing.ReasoningOutsideCompletion)
  .responseField("modelVersion", Field.Model)
  .responseField("usageMetadata.promptTokenCount", Field.PromptTokens)
  .responseField("usageMetadata.candidatesTokenCount", Field.CompletionTokens)
  .responseField("usageMetadata.totalTokenCount", Field.TotalTokens)
  .responseField("usageMetadata.cachedContentTokenCount", Field.CachedTokens)
  .responseField("usageMetadata.thoughtsTokenCount", Field.ReasoningTokens)
  .responseField("error", Field.Error)
  .responseField("error.status", Field.ErrorCode)
  .responseField("error.message", Field.ErrorMessage)
  .responseField("candidates.[].finishReason", Field.FinishReason)
  .responseField("candidates", Field.Content)
  // the unframed stream: [{...},{...}]
  .responseField("[].modelVersion", Field.Model)
  .responseField("[].usageMetadata.promptTokenCount", Field.PromptTokens)
  .responseField("[].usageMetadata.candidatesTokenCount", Field.CompletionTokens)
  .responseField("[].usageMetadata.totalTokenCount", Field.TotalTokens)
  .responseField("[].usageMetadata.cachedContentTokenCount", Field.CachedTokens)
  .responseField("[].usageMetadata.thoughtsTokenCount", Field.ReasoningTokens)
  .responseField("[].error", Field.Error)
  .responseField("[].error.status", Field.ErrorCode)
  .responseField("[].error.message", Field.ErrorMessage)
  .responseField("[].candidates.[].finishReason", Field.FinishReason);
