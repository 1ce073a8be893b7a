// Two closed vocabularies for the counters asm_llm_proxy_finish_reasons and
// asm_llm_proxy_errors (one table in docs/metrics.md): each shape's own finish reason, and an
// error's class from the status code, the provider's error code or type, its message, and
// Envoy's response flags. Tag values are only ever these names, so the tags are bounded.

export const enum FinishReason { None = 0, Stop, Length, ToolCalls, ContentFilter, Other }
export const FINISH_REASONS = 6;

export function finishReasonName(r: FinishReason): string {
  switch (r) {
    case FinishReason.Stop: return "stop";
    case FinishReason.Length: return "length";
    case FinishReason.ToolCalls: return "tool_calls";
    case FinishReason.ContentFilter: return "content_filter";
    default: return "other";
  }
}

/** A shape's finish-reason value, normalised. None for values that mean "not finished yet"
 *  (DashScope's "null" string, the Responses API's "in_progress"/"queued"). */
export function normaliseFinishReason(v: string): FinishReason {
  const s = v.toLowerCase();
  if (s.length == 0 || s == "null" || s == "in_progress" || s == "queued") return FinishReason.None;
  // OpenAI stop; Anthropic/Bedrock end_turn, stop_sequence; Gemini STOP; Responses completed
  if (s == "stop" || s == "end_turn" || s == "stop_sequence" || s == "completed" || s == "finish_reason_unspecified") return FinishReason.Stop;
  // OpenAI length; Anthropic/Bedrock max_tokens; Gemini MAX_TOKENS; Responses max_output_tokens;
  // Anthropic model_context_window_exceeded
  if (s == "length" || s == "max_tokens" || s == "max_output_tokens" || s == "model_context_window_exceeded") return FinishReason.Length;
  // OpenAI tool_calls, function_call; Anthropic/Bedrock tool_use
  if (s == "tool_calls" || s == "function_call" || s == "tool_use") return FinishReason.ToolCalls;
  // OpenAI/Azure/Responses content_filter; Anthropic refusal; Bedrock guardrail_intervened,
  // content_filtered; Gemini SAFETY, RECITATION, BLOCKLIST, PROHIBITED_CONTENT, SPII,
  // IMAGE_SAFETY; DashScope (sensitive output) "content_filter"
  if (s == "content_filter" || s == "refusal" || s == "guardrail_intervened" || s == "content_filtered" || s == "safety"
    || s == "recitation" || s == "blocklist" || s == "prohibited_content" || s == "spii" || s == "image_safety") return FinishReason.ContentFilter;
  return FinishReason.Other;
}

export const enum ErrorType {
  None = 0, RateLimited, ContextLength, ContentFilter, Auth, InvalidRequest, ServerError, Timeout, ClientCancel,
}
export const ERROR_TYPES = 9;

export function errorTypeName(t: ErrorType): string {
  switch (t) {
    case ErrorType.RateLimited: return "rate_limited";
    case ErrorType.ContextLength: return "context_length";
    case ErrorType.ContentFilter: return "content_filter";
    case ErrorType.Auth: return "auth";
    case ErrorType.InvalidRequest: return "invalid_request";
    case ErrorType.ServerError: return "server_error";
    case ErrorType.Timeout: return "timeout";
    default: return "client_cancel";
  }
}

// Envoy's legacy response flag bits (envoy/stream_info/stream_info.h CoreResponseFlag, the
// `response.flags` attribute): UT, DC, SI.
export const FLAG_UPSTREAM_REQUEST_TIMEOUT: u64 = 1 << 2;
export const FLAG_DOWNSTREAM_CONNECTION_TERMINATION: u64 = 1 << 14;
export const FLAG_STREAM_IDLE_TIMEOUT: u64 = 1 << 16;

/** A stream that never ended: who cut it, from Envoy's response flags. */
export function classifyCutOff(flags: u64): ErrorType {
  if ((flags & FLAG_DOWNSTREAM_CONNECTION_TERMINATION) != 0) return ErrorType.ClientCancel;
  if ((flags & (FLAG_UPSTREAM_REQUEST_TIMEOUT | FLAG_STREAM_IDLE_TIMEOUT)) != 0) return ErrorType.Timeout;
  return ErrorType.ServerError; // an upstream reset or connection failure
}

/** A response with an error status or a provider error object. The provider's own words win
 *  over the status (a 400 can be a context overflow, a 403 a content filter); then the status. */
export function classifyError(status: i32, code: string, message: string): ErrorType {
  const c = code.toLowerCase();
  const m = message.toLowerCase();
  // Context length first: it arrives as a 400 invalid_request_error / INVALID_ARGUMENT /
  // InvalidParameter / ValidationException whose code or message says so.
  if (c == "context_length_exceeded" || c == "string_above_max_length" || c == "model_context_window_exceeded"
    || m.includes("context length") || m.includes("context_length") || m.includes("context window")
    || m.includes("prompt is too long") // Anthropic
    || m.includes("exceeds the maximum number of tokens") // Gemini
    || m.includes("range of input length") || m.includes("input length should be") // DashScope
    || m.includes("input is too long") || m.includes("too many input tokens") || m.includes("too many total text bytes") // Bedrock
    || m.includes("maximum context length") || m.includes("reduce the length")) return ErrorType.ContextLength;
  if (c == "content_filter" || c == "content_policy_violation" || c.includes("datainspectionfailed") || c == "data_inspection_failed"
    || c.startsWith("responsibleaipolicyviolation") || m.includes("content management policy") || m.includes("inappropriate content")) return ErrorType.ContentFilter;
  if (c == "rate_limit_exceeded" || c == "rate_limit_error" || c == "insufficient_quota" || c == "resource_exhausted"
    || c.startsWith("throttling") || c == "too_many_requests" || c == "requests" || c == "tokens") return ErrorType.RateLimited;
  if (c == "invalid_api_key" || c == "authentication_error" || c == "permission_error" || c == "unauthenticated"
    || c == "permission_denied" || c == "invalidapikey" || c == "accessdeniedexception" || c == "unrecognizedclientexception"
    || c == "accessdenied" || c.startsWith("accessdenied") || c == "invalid_authentication" || c == "expiredtokenexception") return ErrorType.Auth;
  if (c == "deadline_exceeded" || c == "modeltimeoutexception" || c == "requesttimeout" || c == "timeout") return ErrorType.Timeout;
  if (c == "overloaded_error" || c == "api_error" || c == "server_error" || c == "internal" || c == "unavailable"
    || c == "internalerror" || c == "internal_error" || c == "serviceunavailableexception" || c == "internalserverexception"
    || c == "modelnotreadyexception" || c == "serviceunavailable") return ErrorType.ServerError;
  if (c == "invalid_request_error" || c == "invalid_argument" || c == "invalidparameter" || c == "validationexception"
    || c == "not_found_error" || c == "not_found" || c == "model_not_found" || c == "resourcenotfoundexception"
    || c == "request_too_large" || c == "failed_precondition" || c == "invalid_value") return ErrorType.InvalidRequest;
  if (status == 429) return ErrorType.RateLimited;
  if (status == 401 || status == 403) return ErrorType.Auth;
  if (status == 408 || status == 504) return ErrorType.Timeout;
  if (status >= 500) return ErrorType.ServerError;
  if (status >= 400) return ErrorType.InvalidRequest;
  // A 2xx that carried an error object (a stream that failed mid-way) in words not listed.
  return ErrorType.ServerError;
}
