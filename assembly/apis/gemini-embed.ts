// Gemini and Vertex AI embeddings. AI Studio's `/v1beta/models/{m}:embedContent` and
// `:batchEmbedContents` answer the vectors without any token count (googleapis/js-genai
// types.ts: token statistics are "Vertex only"), so the filter learns the model (from the
// path) and no numbers. Vertex AI's `.../publishers/google/models/{m}:predict` answers
// `predictions[].embeddings.statistics.token_count`, one per input text: their sum is the
// prompt.
import { ApiShape, Auth } from "./shape";
import { MatchKind, StringMatch } from "../match";
import { Field } from "./fields";

export const geminiEmbed = new ApiShape("gemini-embed")
  .path(MatchKind.Suffix, ":embedContent")
  .path(MatchKind.Suffix, ":batchEmbedContents")
  .pathBoth(new StringMatch(MatchKind.Contains, "/publishers/google/models/"), new StringMatch(MatchKind.Suffix, ":predict"))
  .modelInPath("/models/", ":/")
  .authBy(Auth.GoogApiKey)
  .responseSum("predictions.[].embeddings.statistics.token_count", Field.PromptTokens)
  .responseField("error", Field.Error);
