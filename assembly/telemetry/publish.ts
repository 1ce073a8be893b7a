// The sinks: filter state for access logs and Istio's tag overrides, the token counters and the
// latency histograms. Nothing here parses; it takes plain values (the Usage record, the outcome,
// the destination, the VM's state), never a stream.
import { VmState } from "../vm-state";
import { Usage } from "../usage";
import { Skip, skipReason } from "../outcome";
import { LabelBudget } from "./cardinality";
import { setFilterStateRaw, takeHostErrors } from "../envoy";
import { labelFromBytes, labelFromString, OTHER } from "./labels";
import { writeSafeUtf8 } from "./utf8";
import { MetricNames, operationName, providerName } from "./otel";
import { Attribution } from "../identity/attribution";
import { costOf } from "../cost";
import { Billing } from "../apis/billing";
import { Pricing, PriceRow, MAX_PATTERN_BYTES } from "../pricing";
import { ErrorType, FinishReason, FINISH_REASONS as FINISH_REASON_COUNT, classifyCutOff, classifyError, errorTypeName, finishReasonName } from "../classify";
import { ERRORS, FINISH_REASONS, HOST_CALL_ERRORS, LABELS_FOLDED, REWRITE_SKIPPED, UNPARSED, SeriesSample, reasonStatName } from "./metrics";

// Filter state keys; Envoy stores them as `wasm.<key>` (Context::setProperty).
export const KEY_REQUEST_MODEL = "asm.llmproxy.request_model";
/** The request model as a metric label (Istio's `model` on istio_requests_total): exactly the
 *  filter's own `llmproxy_model` value, sanitised and folded by the same budget. */
export const KEY_REQUEST_MODEL_LABEL = "asm.llmproxy.request_model_label";
export const KEY_RESPONSE_MODEL = "asm.llmproxy.response_model";
export const KEY_PROMPT_TOKENS = "asm.llmproxy.request_prompt_tokens";
export const KEY_COMPLETION_TOKENS = "asm.llmproxy.request_completion_tokens";
export const KEY_TOTAL_TOKENS = "asm.llmproxy.request_total_tokens";
export const KEY_CACHED_TOKENS = "asm.llmproxy.request_cached_tokens";
export const KEY_CACHE_WRITE_TOKENS = "asm.llmproxy.request_cache_write_tokens";
export const KEY_REASONING_TOKENS = "asm.llmproxy.request_reasoning_tokens";
export const KEY_AUDIO_SECONDS = "asm.llmproxy.request_audio_seconds";
export const KEY_STREAM = "asm.llmproxy.request_stream";
export const KEY_SKIP = "asm.llmproxy.usage_skipped";
export const KEY_TIME_TO_FIRST_TOKEN = "asm.llmproxy.time_to_first_token_ms";
export const KEY_REQUEST_DURATION = "asm.llmproxy.request_duration_ms";
export const KEY_TIME_PER_OUTPUT_TOKEN = "asm.llmproxy.time_per_output_token_ms";
export const KEY_REQUEST_COST = "asm.llmproxy.request_cost";
export const KEY_REQUEST_COST_CURRENCY = "asm.llmproxy.request_cost_currency";

// The same keys, UTF-8 encoded once.
const B_REQUEST_MODEL = String.UTF8.encode(KEY_REQUEST_MODEL);
const B_REQUEST_MODEL_LABEL = String.UTF8.encode(KEY_REQUEST_MODEL_LABEL);
const B_RESPONSE_MODEL = String.UTF8.encode(KEY_RESPONSE_MODEL);
const B_PROMPT_TOKENS = String.UTF8.encode(KEY_PROMPT_TOKENS);
const B_COMPLETION_TOKENS = String.UTF8.encode(KEY_COMPLETION_TOKENS);
const B_TOTAL_TOKENS = String.UTF8.encode(KEY_TOTAL_TOKENS);
const B_CACHED_TOKENS = String.UTF8.encode(KEY_CACHED_TOKENS);
const B_CACHE_WRITE_TOKENS = String.UTF8.encode(KEY_CACHE_WRITE_TOKENS);
const B_REASONING_TOKENS = String.UTF8.encode(KEY_REASONING_TOKENS);
const B_AUDIO_SECONDS = String.UTF8.encode(KEY_AUDIO_SECONDS);
const B_STREAM = String.UTF8.encode(KEY_STREAM);
const B_SKIP = String.UTF8.encode(KEY_SKIP);
const B_TIME_TO_FIRST_TOKEN = String.UTF8.encode(KEY_TIME_TO_FIRST_TOKEN);
const B_REQUEST_DURATION = String.UTF8.encode(KEY_REQUEST_DURATION);
const B_TIME_PER_OUTPUT_TOKEN = String.UTF8.encode(KEY_TIME_PER_OUTPUT_TOKEN);
const B_REQUEST_COST = String.UTF8.encode(KEY_REQUEST_COST);
const B_REQUEST_COST_CURRENCY = String.UTF8.encode(KEY_REQUEST_COST_CURRENCY);
const B_TRUE = String.UTF8.encode("true");
const B_FALSE = String.UTF8.encode("false");

/** Filter state holds at most this much of a model name (it comes from a client's body). */
const MAX_STATE_MODEL: i32 = 256;

/** As soon as the request is known: the model sent upstream, exact (bounded, valid UTF-8)
 *  for the access log, and as a label for Istio's tag override. The label goes through the
 *  models budget without counting a fold: the counters' own admission counts it once. */
export function publishRequestModel(vm: VmState, model: Uint8Array | null, streaming: bool): void {
  if (model !== null && model.length > 0) {
    setModel(B_REQUEST_MODEL, model);
    const label = String.UTF8.encode(vm.models.admit(labelFromBytes(model)));
    setFilterStateRaw(B_REQUEST_MODEL_LABEL, changetype<usize>(label), label.byteLength);
  }
  const flag = streaming ? B_TRUE : B_FALSE;
  setFilterStateRaw(B_STREAM, changetype<usize>(flag), flag.byteLength);
}

/** Once the response has ended (or the stream was cut off): usage to filter state, counters
 *  and histograms. Latencies are published for every response that ended with a 2xx status
 *  (read or not); token numbers only when the usage was read (skip None). */
export function publishResult(vm: VmState, usage: Usage, skip: Skip, streaming: bool, destination: string, who: Attribution | null, shape: string): void {
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
    setCount(B_AUDIO_SECONDS, usage.audioSeconds); // filter state only: seconds are not tokens
    sample.promptTokens = usage.promptTokens;
    sample.completionTokens = usage.completionTokens;
    sample.cachedTokens = usage.cachedTokens;
    sample.reasoningTokens = usage.reasoningTokens;
    sample.cacheWriteTokens = usage.cacheWriteTokens;
    priceRequest(vm.config.pricing, usage, sample);
    if (streaming) {
      sample.timePerOutputTokenMs = usage.timePerOutputTokenMs;
      setCount(B_TIME_PER_OUTPUT_TOKEN, sample.timePerOutputTokenMs);
    }
  }
  const error = errorTypeOf(usage, skip);
  const finish = skip != Skip.Incomplete ? usage.finishReason : FinishReason.None;
  if (skip != Skip.None && !timed && error == ErrorType.None) return;
  const model = admit(vm, vm.models, labelFromBytes(usage.model), "model");
  // Inbound, the destination is the server's own workload, not the host the caller named.
  const dest = who !== null && who.destination.length > 0 ? who.destination : admit(vm, vm.destinations, labelFromString(destination), "destination");
  const workload = who !== null ? who.sourceWorkload : vm.workload;
  const namespace = who !== null ? who.sourceNamespace : vm.namespace;
  const identityTags = who !== null ? who.tags : "";
  const names = vm.config.metricNames;
  if ((names & MetricNames.Asm) != 0) {
    vm.metrics.addSample(workload, namespace, dest, model, identityTags, sample);
    if (finish != FinishReason.None) {
      vm.metrics.countTagged(workload, namespace, dest, model, identityTags, <i32>finish, FINISH_REASONS, "llmproxy_finish_reason", finishReasonName(finish));
    }
    if (error != ErrorType.None) {
      vm.metrics.countTagged(workload, namespace, dest, model, identityTags, FINISH_REASON_COUNT + <i32>error, ERRORS, "llmproxy_error_type", errorTypeName(error));
    }
  }
  if ((names & MetricNames.Otel) != 0) {
    // gen_ai.request.model / gen_ai.response.model: each under the same model budget.
    const requestModel = admit(vm, vm.models, labelFromBytes(usage.requestModel), "model");
    const responseModel = admit(vm, vm.models, labelFromBytes(usage.responseModel), "model");
    const tags = "|gen_ai_operation_name=" + operationName(shape)
      + "|gen_ai_provider_name=" + labelFromString(providerName(destination, shape))
      + "|gen_ai_request_model=" + requestModel
      + "|gen_ai_response_model=" + responseModel
      + "|server_address=" + dest
      + "|llmproxy_source_workload=" + workload
      + "|llmproxy_source_workload_namespace=" + namespace
      + identityTags;
    vm.otel.addSample(tags, sample, who !== null && who.inbound);
  }
}

/** The class of a failed request: an error status or a provider error object (by the
 *  provider's code and words, then the status), or a stream cut off (by Envoy's flags). */
function errorTypeOf(usage: Usage, skip: Skip): ErrorType {
  if (skip == Skip.Incomplete) {
    return usage.status >= 400 ? classifyError(usage.status, usage.errorCode, usage.errorMessage) : classifyCutOff(usage.responseFlags);
  }
  if ((skip == Skip.ErrorStatus && usage.status >= 400) || skip == Skip.ProviderError) {
    return classifyError(usage.status, usage.errorCode, usage.errorMessage);
  }
  return ErrorType.None;
}

/** With a price table: the request's cost as filter state and in the sample, or the sample
 *  marked unpriced when no row matches its model (never a guessed price). */
function priceRequest(pricing: Pricing, usage: Usage, sample: SeriesSample): void {
  if (!pricing.enabled) return;
  const row: PriceRow | null = (usage.billing & Billing.SummedOverModels) != 0 ? null : priceRowOf(pricing, usage);
  if (row === null) {
    sample.unpriced = 1;
    return;
  }
  const cost = costOf(usage, usage.billing, row);
  sample.costMicros = cost.micros;
  sample.costPicos = cost.picos;
  setString(B_REQUEST_COST, cost.toDecimal());
  setString(B_REQUEST_COST_CURRENCY, pricing.currency);
}

/** The row for the model sent upstream, else for the one that answered (Azure names its
 *  deployment in the path, so only the response names the model). */
function priceRowOf(pricing: Pricing, usage: Usage): PriceRow | null {
  const requested = usage.requestModel;
  if (requested !== null && requested.length > 0) {
    const row = pricing.lookup(modelName(requested));
    if (row !== null) return row;
  }
  const answered = usage.responseModel;
  return answered !== null && answered.length > 0 ? pricing.lookup(modelName(answered)) : null;
}

/** A model name from a body as a string to look up; longer than any pattern can be, it is
 *  cut (a prefix row still matches it). */
function modelName(bytes: Uint8Array): string {
  const n = min(bytes.length, MAX_PATTERN_BYTES + 1);
  return String.UTF8.decodeUnsafe(bytes.dataStart, n);
}

function setString(key: ArrayBuffer, value: string): void {
  const bytes = String.UTF8.encode(value);
  setFilterStateRaw(key, changetype<usize>(bytes), bytes.byteLength);
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

/** A model name as filter state: valid UTF-8 of at most MAX_STATE_MODEL bytes, control
 *  characters (which would corrupt a text access-log line) as '_' (see utf8.ts). */
function setModel(key: ArrayBuffer, model: Uint8Array): void {
  setFilterStateRaw(key, MODEL_OUT, writeSafeUtf8(model, MODEL_OUT, MAX_STATE_MODEL));
}
