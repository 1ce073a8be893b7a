// Anthropic models on Vertex AI: `POST .../publishers/anthropic/models/{model}:rawPredict`
// (JSON) and `:streamRawPredict` (SSE). The body is the Messages API's without `model`
// (`anthropic_version: "vertex-2023-10-16"` instead); the model is in the path
// (`claude-sonnet-4@20250514`); the response is the Messages API's, read as `anthropic`.
// Only the anthropic publisher: other partners' `:rawPredict` speak other schemas.
import { ApiShape, Auth } from "./shape";
import { MatchKind, StringMatch } from "../match";
import { anthropicResponse } from "./anthropic";

const PUBLISHER = "/publishers/anthropic/models/";

export const vertexAnthropic = anthropicResponse(new ApiShape("vertex-anthropic")
  .pathBoth(new StringMatch(MatchKind.Contains, "/publishers/anthropic/models/"), new StringMatch(MatchKind.Suffix, ":rawPredict"))
  .pathBoth(new StringMatch(MatchKind.Contains, "/publishers/anthropic/models/"), new StringMatch(MatchKind.Suffix, ":streamRawPredict"))
  .modelInPath(PUBLISHER, ":/")
  .streamsByPath(":streamRawPredict")
  .authBy(Auth.Bearer));
