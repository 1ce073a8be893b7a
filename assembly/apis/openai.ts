// OpenAI chat completions, completions and embeddings (and every OpenAI-compatible backend:
// DashScope compatible-mode, vLLM, Ollama...). Streaming usage arrives in the final chunk before
// `data: [DONE]` when the request sets stream_options.include_usage (earlier chunks carry
// "usage": null, which fills nothing).
import { ApiShape } from "./shape";
import {
  F_MODEL, F_PROMPT_TOKENS, F_COMPLETION_TOKENS, F_TOTAL_TOKENS, F_CACHED_TOKENS, F_REASONING_TOKENS,
  F_STREAM, F_STREAM_OPTIONS, F_INCLUDE_USAGE, F_ERROR,
} from "./fields";

export const openai = new ApiShape("openai")
  .requestField("model", F_MODEL)
  .requestField("stream", F_STREAM)
  .requestField("stream_options", F_STREAM_OPTIONS)
  .requestField("stream_options.include_usage", F_INCLUDE_USAGE)
  .responseField("model", F_MODEL)
  .responseField("usage.prompt_tokens", F_PROMPT_TOKENS)
  .responseField("usage.completion_tokens", F_COMPLETION_TOKENS)
  .responseField("usage.total_tokens", F_TOTAL_TOKENS)
  .responseField("usage.prompt_tokens_details.cached_tokens", F_CACHED_TOKENS)
  .responseField("usage.completion_tokens_details.reasoning_tokens", F_REASONING_TOKENS)
  .responseField("error", F_ERROR);
