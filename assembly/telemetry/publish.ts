// The sinks: filter state for access logs and Istio's tag overrides, and the token counters.
// Nothing here parses; it only reads the Usage record of a stream.
import { LlmStream } from "../filter";
import { LlmRoot } from "../root";
import { LabelBudget } from "./cardinality";
import { Skip } from "../filter";
import { setFilterStateRaw } from "../envoy";
import { labelFromBytes, labelFromString, OTHER } from "./labels";
import { LABELS_FOLDED, REWRITE_SKIPPED, UNPARSED, reasonStatName } from "./metrics";

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

// The same keys, UTF-8 encoded once.
const B_REQUEST_MODEL = String.UTF8.encode(KEY_REQUEST_MODEL);
const B_RESPONSE_MODEL = String.UTF8.encode(KEY_RESPONSE_MODEL);
const B_PROMPT_TOKENS = String.UTF8.encode(KEY_PROMPT_TOKENS);
const B_COMPLETION_TOKENS = String.UTF8.encode(KEY_COMPLETION_TOKENS);
const B_TOTAL_TOKENS = String.UTF8.encode(KEY_TOTAL_TOKENS);
const B_CACHED_TOKENS = String.UTF8.encode(KEY_CACHED_TOKENS);
const B_REASONING_TOKENS = String.UTF8.encode(KEY_REASONING_TOKENS);
const B_STREAM = String.UTF8.encode(KEY_STREAM);
const B_SKIP = String.UTF8.encode(KEY_SKIP);
const B_TRUE = String.UTF8.encode("true");
const B_FALSE = String.UTF8.encode("false");

/** Filter state holds at most this much of a model name (it comes from a client's body). */
const MAX_STATE_MODEL: i32 = 256;

/** As soon as the request is known: the model sent upstream, for the access log and Istio. */
export function publishRequestModel(stream: LlmStream): void {
  const model = stream.usage.requestModel;
  if (model !== null && model.length > 0) setModel(B_REQUEST_MODEL, model);
  const flag = stream.stream ? B_TRUE : B_FALSE;
  setFilterStateRaw(B_STREAM, changetype<usize>(flag), flag.byteLength);
}

/** Once the response has ended (or the stream was cut off): usage to filter state and counters. */
export function publishResult(stream: LlmStream, ok: bool): void {
  const usage = stream.usage;
  const root = stream.root;
  const responseModel = usage.responseModel;
  if (responseModel !== null) setModel(B_RESPONSE_MODEL, responseModel);
  if (!ok) {
    const reason = skipReason(stream.skip);
    const bytes = String.UTF8.encode(reason);
    setFilterStateRaw(B_SKIP, changetype<usize>(bytes), bytes.byteLength);
    root.counters.add(reasonStatName(UNPARSED, reason), 1);
    return;
  }
  setCount(B_PROMPT_TOKENS, usage.promptTokens);
  setCount(B_COMPLETION_TOKENS, usage.completionTokens);
  setCount(B_TOTAL_TOKENS, usage.total);
  setCount(B_CACHED_TOKENS, usage.cachedTokens);
  setCount(B_REASONING_TOKENS, usage.reasoningTokens);

  const model = admit(root, root.models, labelFromBytes(usage.model), "model");
  const destination = admit(root, root.destinations, labelFromString(stream.destination), "destination");
  root.counters.addTokens(root.workload, root.namespace, destination, model, usage.promptTokens, usage.completionTokens);
}

export function countSkippedRewrite(root: LlmRoot, reason: string): void {
  root.counters.add(reasonStatName(REWRITE_SKIPPED, reason), 1);
}

function admit(root: LlmRoot, budget: LabelBudget, value: string, label: string): string {
  const admitted = budget.admit(value);
  if (admitted == OTHER && value != OTHER) root.counters.add(LABELS_FOLDED + "|llmproxy_label=" + label, 1);
  return admitted;
}

const DIGITS: usize = memory.data(24);

/** A count as decimal filter state, written without allocating. */
function setCount(key: ArrayBuffer, value: i64): void {
  if (value < 0) return;
  let end = DIGITS + 24;
  let p = end;
  do {
    p--;
    store<u8>(p, <u8>(0x30 + <i32>(value % 10)));
    value /= 10;
  } while (value > 0);
  setFilterStateRaw(key, p, <i32>(end - p));
}

const MODEL_OUT: usize = memory.data(MAX_STATE_MODEL);

/** A model name as filter state: at most MAX_STATE_MODEL bytes, control bytes (which would
 *  corrupt a text access-log line) as '_'. */
function setModel(key: ArrayBuffer, model: Uint8Array): void {
  const n = min(model.length, MAX_STATE_MODEL);
  for (let i = 0; i < n; i++) {
    const c = unchecked(model[i]);
    store<u8>(MODEL_OUT + <usize>i, c < 0x20 || c == 0x7f ? 0x5f : c);
  }
  setFilterStateRaw(key, MODEL_OUT, n);
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
