// The sinks: filter state for access logs and Istio's tag overrides, and the token counters.
// Nothing here parses; it only reads the Usage record of a stream.
import { LlmStream } from "../filter";
import { LlmRoot } from "../root";
import { LabelBudget } from "./cardinality";
import { Skip } from "../filter";
import { setFilterState } from "../envoy";
import { labelFromBytes, labelFromString, OTHER } from "./labels";
import { COMPLETION_TOKENS, LABELS_FOLDED, PROMPT_TOKENS, REWRITE_SKIPPED, UNPARSED, reasonStatName, tokenStatName } from "./metrics";

// Filter state keys; Envoy stores them as `wasm.<key>` (Context::setProperty).
export const KEY_REQUEST_MODEL = "asm.llmproxy.request_model";
export const KEY_RESPONSE_MODEL = "asm.llmproxy.response_model";
export const KEY_PROMPT_TOKENS = "asm.llmproxy.request_prompt_tokens";
export const KEY_COMPLETION_TOKENS = "asm.llmproxy.request_completion_tokens";
export const KEY_TOTAL_TOKENS = "asm.llmproxy.request_total_tokens";
export const KEY_CACHED_TOKENS = "asm.llmproxy.request_cached_tokens";
export const KEY_REASONING_TOKENS = "asm.llmproxy.request_reasoning_tokens";
export const KEY_STREAM = "asm.llmproxy.request_stream";
export const KEY_SKIP = "asm.llmproxy.usage_skipped";

/** Filter state holds at most this much of a model name (it comes from a client's body). */
const MAX_STATE_MODEL = 256;

/** As soon as the request is known: the model sent upstream, for the access log and Istio. */
export function publishRequestModel(stream: LlmStream): void {
  const model = stream.usage.requestModel;
  if (model !== null && model.length > 0) setFilterState(KEY_REQUEST_MODEL, stateModel(model));
  setFilterState(KEY_STREAM, String.UTF8.encode(stream.stream ? "true" : "false"));
}

/** Once the response has ended (or the stream was cut off): usage to filter state and counters. */
export function publishResult(stream: LlmStream, ok: bool): void {
  const usage = stream.usage;
  const root = stream.root;
  const responseModel = usage.responseModel;
  if (responseModel !== null) setFilterState(KEY_RESPONSE_MODEL, stateModel(responseModel));
  if (!ok) {
    setFilterState(KEY_SKIP, String.UTF8.encode(skipReason(stream.skip)));
    root.counters.add(reasonStatName(UNPARSED, skipReason(stream.skip)), 1);
    return;
  }
  setCount(KEY_PROMPT_TOKENS, usage.promptTokens);
  setCount(KEY_COMPLETION_TOKENS, usage.completionTokens);
  setCount(KEY_TOTAL_TOKENS, usage.total);
  setCount(KEY_CACHED_TOKENS, usage.cachedTokens);
  setCount(KEY_REASONING_TOKENS, usage.reasoningTokens);

  const model = admit(root, root.models, labelFromBytes(usage.model), "model");
  const destination = admit(root, root.destinations, labelFromString(stream.destination), "destination");
  if (usage.promptTokens > 0) {
    root.counters.add(tokenStatName(PROMPT_TOKENS, root.workload, root.namespace, destination, model), usage.promptTokens);
  }
  if (usage.completionTokens > 0) {
    root.counters.add(tokenStatName(COMPLETION_TOKENS, root.workload, root.namespace, destination, model), usage.completionTokens);
  }
}

export function countSkippedRewrite(root: LlmRoot, reason: string): void {
  root.counters.add(reasonStatName(REWRITE_SKIPPED, reason), 1);
}

function admit(root: LlmRoot, budget: LabelBudget, value: string, label: string): string {
  const admitted = budget.admit(value);
  if (admitted == OTHER && value != OTHER) root.counters.add(LABELS_FOLDED + "|llmproxy_label=" + label, 1);
  return admitted;
}

function setCount(key: string, value: i64): void {
  if (value >= 0) setFilterState(key, String.UTF8.encode(value.toString()));
}

function stateModel(model: Uint8Array): ArrayBuffer {
  const n = min(model.length, MAX_STATE_MODEL);
  // Control bytes would corrupt a text access log line; they become '_'.
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = model[i];
    out[i] = c < 0x20 || c == 0x7f ? 0x5f : c;
  }
  return out.buffer;
}

export function skipReason(skip: Skip): string {
  switch (skip) {
    case Skip.ErrorStatus: return "error_status";
    case Skip.Compressed: return "compressed";
    case Skip.ContentType: return "content_type";
    case Skip.Malformed: return "malformed";
    case Skip.NoUsage: return "no_usage";
    case Skip.Incomplete: return "incomplete";
    case Skip.ProviderError: return "provider_error";
    default: return "none";
  }
}
