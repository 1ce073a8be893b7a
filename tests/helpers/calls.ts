// Calls the tests make the same way in several files.
import type { Sidecar } from "./sidecar";
import { openaiJson } from "./bodies";

/** One observed chat completion sent stream-callback by stream-callback (a POST to an LLM path,
 *  headers, body, answer): 3 prompt and 4 completion tokens for gpt-4o-mini. */
export function observedChat(s: Sidecar): void {
  const st = s.vm.newStream();
  st.sendRequestHeaders(
    [
      [":method", "POST"],
      [":path", "/v1/chat/completions"],
      [":authority", "api.openai.com"],
      ["content-type", "application/json"],
    ],
    false,
  );
  st.sendRequestBody(new TextEncoder().encode('{"model":"gpt-4o-mini","messages":[]}'), true);
  st.sendResponseHeaders(
    [
      [":status", "200"],
      ["content-type", "application/json"],
    ],
    false,
  );
  st.sendResponseBody(openaiJson("gpt-4o-mini", { prompt: 3, completion: 4 }), true);
  st.finish();
}
