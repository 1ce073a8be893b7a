// Ollama's native API (ollama/ollama docs/api.md): `POST /api/chat`, `/api/generate` and
// `/api/embed`. The model is in the request body and repeated in every response object.
// Streaming is Ollama's default (`"stream": false` turns it off) and comes as NDJSON
// (`application/x-ndjson`, assembly/ndjson.ts): one object per line, the last with
// `"done": true` and the counts. `prompt_eval_count` is the prompt tokens evaluated (Ollama
// leaves out a prompt prefix it reused from its KV cache, and may omit the field when the
// whole prompt was cached); `eval_count` the tokens generated. Errors are `{"error": "..."}`
// (also as the last line of a stream).
import { ApiShape, Auth } from "./shape";
import { MatchKind } from "../match";
import { Field } from "./fields";

export const ollama = new ApiShape("ollama")
  .path(MatchKind.Suffix, "/api/chat")
  .path(MatchKind.Suffix, "/api/generate")
  .path(MatchKind.Suffix, "/api/embed")
  .authBy(Auth.Bearer)
  .requestField("model", Field.Model)
  .requestField("stream", Field.Stream)
  .responseField("model", Field.Model)
  .responseField("prompt_eval_count", Field.PromptTokens)
  .responseField("eval_count", Field.CompletionTokens)
  .responseField("error", Field.Error)
  // /api/chat's message.content (and thinking), /api/generate's response
  .responseField("message.content", Field.Content)
  .responseField("message.thinking", Field.Content)
  .responseField("response", Field.Content);
