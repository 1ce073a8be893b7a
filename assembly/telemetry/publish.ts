// The sinks: filter state for access logs and Istio's tag overrides, the token counters and the
// latency histograms. Nothing here parses; it takes plain values (the Usage record, the outcome,
// the destination, the VM's state), never a stream.
import { VmState } from "../vm-state";
import { Usage } from "../usage";
import { Skip, skipReason } from "../outcome";
import { LabelBudget } from "./cardinality";
import { setFilterStateRaw, takeHostErrors } from "../envoy";
import { labelFromBytes, labelFromString, OTHER } from "./labels";
import { HOST_CALL_ERRORS, LABELS_FOLDED, REWRITE_SKIPPED, UNPARSED, SeriesSample, reasonStatName } from "./metrics";

// Filter state keys; Envoy stores them as `wasm.<key>` (Context::setProperty).
export const KEY_REQUEST_MODEL = "asm.llmproxy.request_model";
export const KEY_RESPONSE_MODEL = "asm.llmproxy.response_model";
export const KEY_PROMPT_TOKENS = "asm.llmproxy.request_prompt_tokens";
export const KEY_COMPLETION_TOKENS = "asm.llmproxy.request_completion_tokens";
export const KEY_TOTAL_TOKENS = "asm.llmproxy.request_total_tokens";
export const KEY_CACHED_TOKENS = "asm.llmproxy.request_cached_tokens";
export const KEY_CACHE_WRITE_TOKENS = "asm.llmproxy.request_cache_write_tokens";
export const KEY_REASONING_TOKENS = "asm.llmproxy.request_reasoning_tokens";
export const KEY_STREAM = "asm.llmproxy.request_stream";
export const KEY_SKIP = "asm.llmproxy.usage_skipped";
export const KEY_TIME_TO_FIRST_TOKEN = "asm.llmproxy.time_to_first_token_ms";
export const KEY_REQUEST_DURATION = "asm.llmproxy.request_duration_ms";
export const KEY_TIME_PER_OUTPUT_TOKEN = "asm.llmproxy.time_per_output_token_ms";

// The same keys, UTF-8 encoded once.
const B_REQUEST_MODEL = String.UTF8.encode(KEY_REQUEST_MODEL);
const B_RESPONSE_MODEL = String.UTF8.encode(KEY_RESPONSE_MODEL);
const B_PROMPT_TOKENS = String.UTF8.encode(KEY_PROMPT_TOKENS);
const B_COMPLETION_TOKENS = String.UTF8.encode(KEY_COMPLETION_TOKENS);
const B_TOTAL_TOKENS = String.UTF8.encode(KEY_TOTAL_TOKENS);
const B_CACHED_TOKENS = String.UTF8.encode(KEY_CACHED_TOKENS);
const B_CACHE_WRITE_TOKENS = String.UTF8.encode(KEY_CACHE_WRITE_TOKENS);
const B_REASONING_TOKENS = String.UTF8.encode(KEY_REASONING_TOKENS);
const B_STREAM = String.UTF8.encode(KEY_STREAM);
const B_SKIP = String.UTF8.encode(KEY_SKIP);
const B_TIME_TO_FIRST_TOKEN = String.UTF8.encode(KEY_TIME_TO_FIRST_TOKEN);
const B_REQUEST_DURATION = String.UTF8.encode(KEY_REQUEST_DURATION);
const B_TIME_PER_OUTPUT_TOKEN = String.UTF8.encode(KEY_TIME_PER_OUTPUT_TOKEN);
const B_TRUE = String.UTF8.encode("true");
const B_FALSE = String.UTF8.encode("false");

/** Filter state holds at most this much of a model name (it comes from a client's body). */
const MAX_STATE_MODEL: i32 = 256;

/** As soon as the request is known: the model sent upstream, for the access log and Istio. */
export function publishRequestModel(model: Uint8Array | null, streaming: bool): void {
  if (model !== null && model.length > 0) setModel(B_REQUEST_MODEL, model);
  const flag = streaming ? B_TRUE : B_FALSE;
  setFilterStateRaw(B_STREAM, changetype<usize>(flag), flag.byteLength);
}

/** Once the response has ended (or the stream was cut off): usage to filter state, counters
 *  and histograms. Latencies are published for every response that ended with a 2xx status
 *  (read or not); token numbers only when the usage was read (skip None). */
export function publishResult(vm: VmState, usage: Usage, skip: Skip, streaming: bool, destination: string): void {
  const hostErrors = takeHostErrors();
  if (hostErrors > 0) vm.metrics.add(HOST_CALL_ERRORS, hostErrors);
  const responseModel = usage.responseModel;
  if (responseModel !== null) setModel(B_RESPONSE_MODEL, responseModel);
  const sample = new SeriesSample();
  const timed = skip != Skip.Incomplete && skip != Skip.ErrorStatus;
  if (timed) {
    sample.requestDurationMs = usage.durationMs;
    if (streaming) sample.timeToFirstTokenMs = usage.timeToFirstTokenMs;
    setCount(B_REQUEST_DURATION, sample.requestDurationMs);
    setCount(B_TIME_TO_FIRST_TOKEN, sample.timeToFirstTokenMs);
  }
  if (skip != Skip.None) {
    const reason = skipReason(skip);
    const bytes = String.UTF8.encode(reason);
    setFilterStateRaw(B_SKIP, changetype<usize>(bytes), bytes.byteLength);
    vm.metrics.add(reasonStatName(UNPARSED, reason), 1);
  } else {
    setCount(B_PROMPT_TOKENS, usage.promptTokens);
    setCount(B_COMPLETION_TOKENS, usage.completionTokens);
    setCount(B_TOTAL_TOKENS, usage.total);
    setCount(B_CACHED_TOKENS, usage.cachedTokens);
    setCount(B_CACHE_WRITE_TOKENS, usage.cacheWriteTokens);
    setCount(B_REASONING_TOKENS, usage.reasoningTokens);
    sample.promptTokens = usage.promptTokens;
    sample.completionTokens = usage.completionTokens;
    sample.cachedTokens = usage.cachedTokens;
    sample.reasoningTokens = usage.reasoningTokens;
    if (streaming) {
      sample.timePerOutputTokenMs = usage.timePerOutputTokenMs;
      setCount(B_TIME_PER_OUTPUT_TOKEN, sample.timePerOutputTokenMs);
    }
  }
  if (skip != Skip.None && !timed) return;
  const model = admit(vm, vm.models, labelFromBytes(usage.model), "model");
  const dest = admit(vm, vm.destinations, labelFromString(destination), "destination");
  vm.metrics.addSample(vm.workload, vm.namespace, dest, model, sample);
}

export function countSkippedRewrite(vm: VmState, reason: string): void {
  vm.metrics.add(reasonStatName(REWRITE_SKIPPED, reason), 1);
}

function admit(vm: VmState, budget: LabelBudget, value: string, label: string): string {
  const admitted = budget.admit(value);
  if (admitted == OTHER && value != OTHER) vm.metrics.add(LABELS_FOLDED + "|llmproxy_label=" + label, 1);
  return admitted;
}

const DIGITS: usize = memory.data(24);

/** A count as decimal filter state, written without allocating; nothing for -1 (unknown). */
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
