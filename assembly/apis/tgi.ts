// Hugging Face Text Generation Inference's own API: `POST /generate` (JSON) and
// `/generate_stream` (SSE, `data:` events, no `[DONE]`); its OpenAI-compatible
// `/v1/chat/completions` is the `openai` shape. The request names no model (a TGI server
// serves one) and neither does the response. `details.generated_tokens` (on /generate when
// `parameters.details` is true, and on the last event of a stream) is the completion. TGI
// reports the prompt only as the token list `details.prefill` (with `decoder_input_details`),
// which the filter does not count: prompt tokens stay unknown. Errors: `{"error", "error_type"}`.
// Field names: huggingface/text-generation-inference docs/openapi.json (GenerateResponse,
// StreamResponse, Details, StreamDetails, ErrorResponse).
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";

export const tgi = new ApiShape("tgi")
  .path(MatchKind.Suffix, "/generate")
  .path(MatchKind.Suffix, "/generate_stream")
  .streamsByPath("/generate_stream")
  .authBy(Auth.Bearer)
  .responseField("details.generated_tokens", Field.CompletionTokens)
  .responseField("error", Field.Error)
  .responseField("token.text", Field.Content);
