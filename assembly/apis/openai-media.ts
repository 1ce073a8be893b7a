// OpenAI images and audio transcriptions, the ones that report usage.
// - Images (`/images/generations` JSON; `/images/edits` a multipart upload, observed but not
//   read): `usage.input_tokens` (text + image input), `output_tokens` (image tokens),
//   `total_tokens`, `input_tokens_details.cached_tokens` where sent; streamed (`stream: true`)
//   as SSE whose `image_generation.completed` / `image_edit.completed` event has the usage.
//   dall-e-2/3 answer no usage.
// - Transcriptions (`/audio/transcriptions`, multipart): `usage.type: "tokens"` gives
//   `input_tokens` (audio + text prompt), `output_tokens`, `total_tokens`; `usage.type:
//   "duration"` (whisper-1) gives `seconds`, which are not tokens: filter state
//   `request_audio_seconds` only. A stream's `transcript.text.done` event carries the usage.
// Neither response names the model; a form request's model is not read.
// Field names: openai/openai-python src/openai/types/images_response.py (Usage),
// audio/transcription.py (UsageTokens, UsageDuration); envoyproxy/ai-gateway's cassettes.
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";

export const openaiImages = new ApiShape("openai-images")
  .path(MatchKind.Suffix, "/images/generations")
  .path(MatchKind.Suffix, "/images/edits")
  .acceptsForms()
  .authBy(Auth.Bearer)
  .requestField("model", Field.Model)
  .requestField("stream", Field.Stream)
  .responseField("usage.input_tokens", Field.PromptTokens)
  .responseField("usage.output_tokens", Field.CompletionTokens)
  .responseField("usage.total_tokens", Field.TotalTokens)
  .responseField("usage.input_tokens_details.cached_tokens", Field.CachedTokens)
  .responseField("error", Field.Error)
  .responseField("b64_json", Field.Content);

export const openaiAudio = new ApiShape("openai-audio")
  .path(MatchKind.Suffix, "/audio/transcriptions")
  .acceptsForms()
  .authBy(Auth.Bearer)
  .requestField("model", Field.Model)
  .requestField("stream", Field.Stream)
  .responseField("usage.input_tokens", Field.PromptTokens)
  .responseField("usage.output_tokens", Field.CompletionTokens)
  .responseField("usage.total_tokens", Field.TotalTokens)
  .responseField("usage.seconds", Field.AudioSeconds)
  .responseField("error", Field.Error)
  .responseField("delta", Field.Content);
