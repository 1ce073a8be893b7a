// Anthropic Messages API (/v1/messages), which several gateways also expose. Streaming:
// message_start carries message.model and message.usage.input_tokens; message_delta carries
// usage.output_tokens as a running total. Both paths fill the same fields; the last wins.
import { ApiShape } from "./shape";
import { F_MODEL, F_PROMPT_TOKENS, F_COMPLETION_TOKENS, F_CACHED_TOKENS, F_STREAM, F_ERROR } from "./fields";

export const anthropic = new ApiShape("anthropic")
  .requestField("model", F_MODEL)
  .requestField("stream", F_STREAM)
  .responseField("model", F_MODEL)
  .responseField("message.model", F_MODEL)
  .responseField("usage.input_tokens", F_PROMPT_TOKENS)
  .responseField("message.usage.input_tokens", F_PROMPT_TOKENS)
  .responseField("usage.output_tokens", F_COMPLETION_TOKENS)
  .responseField("message.usage.output_tokens", F_COMPLETION_TOKENS)
  .responseField("usage.cache_read_input_tokens", F_CACHED_TOKENS)
  .responseField("message.usage.cache_read_input_tokens", F_CACHED_TOKENS)
  .responseField("error", F_ERROR);
