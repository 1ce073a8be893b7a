// Alibaba DashScope native API (text-generation and multimodal-generation). The response has no
// model; usage is input_tokens/output_tokens. Streaming (X-DashScope-SSE: enable or
// Accept: text/event-stream) repeats the usage in every event as a running total: take the
// last, never sum.
import { ApiShape } from "./shape";
import { F_MODEL, F_PROMPT_TOKENS, F_COMPLETION_TOKENS, F_TOTAL_TOKENS, F_CACHED_TOKENS, F_ERROR } from "./fields";

export const dashscope = new ApiShape("dashscope")
  .requestField("model", F_MODEL)
  .responseField("usage.input_tokens", F_PROMPT_TOKENS)
  .responseField("usage.output_tokens", F_COMPLETION_TOKENS)
  .responseField("usage.total_tokens", F_TOTAL_TOKENS)
  .responseField("usage.prompt_tokens_details.cached_tokens", F_CACHED_TOKENS)
  .responseField("code", F_ERROR);
