// Cohere API v2: chat (`POST /v2/chat`) and embed (`POST /v2/embed`). The model is only in the
// request body. Chat's usage (JSON: top-level `usage`; SSE: the `message-end` event's
// `delta.usage`) has two counts of each side: `tokens.{input,output}_tokens`, what the model
// read and wrote, and `billed_units.{input,output}_tokens`, what Cohere bills (it does not
// bill the prompt template it adds). The filter's prompt and completion are `tokens.*`, the
// definition every other shape uses (the model's own count, template included);
// `cached_tokens` is the prompt tokens that hit Cohere's inference cache. Embed answers
// `meta.billed_units.input_tokens` (and `meta.tokens.input_tokens` where sent, which comes
// later in the document and so wins). Field names: cohere-ai/cohere-python src/cohere/types
// usage.py, usage_tokens.py, usage_billed_units.py, api_meta.py, chat_message_end_event_delta.py.
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";

export const cohere = new ApiShape("cohere")
  .path(MatchKind.Suffix, "/v2/chat")
  .path(MatchKind.Suffix, "/v2/embed")
  .authBy(Auth.Bearer)
  .requestField("model", Field.Model)
  .requestField("stream", Field.Stream)
  .responseField("usage.tokens.input_tokens", Field.PromptTokens)
  .responseField("usage.tokens.output_tokens", Field.CompletionTokens)
  .responseField("usage.cached_tokens", Field.CachedTokens)
  .responseField("delta.usage.tokens.input_tokens", Field.PromptTokens)
  .responseField("delta.usage.tokens.output_tokens", Field.CompletionTokens)
  .responseField("delta.usage.cached_tokens", Field.CachedTokens)
  .responseField("meta.billed_units.input_tokens", Field.PromptTokens)
  .responseField("meta.tokens.input_tokens", Field.PromptTokens)
  .responseField("delta.error", Field.Error)
  // content-delta: delta.message.content.text; tool-call-delta: delta.message.tool_calls
  .responseField("delta.message.content.text", Field.Content)
  .responseField("delta.message.tool_calls", Field.Content);
