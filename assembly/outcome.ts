// How a stream's usage reading ended: the reasons a response's usage was not read, as the
// llmproxy_reason tag of asm_llm_proxy_unparsed_responses and the filter state usage_skipped.
export const enum Skip {
  None = 0, ErrorStatus, Compressed, ContentType, Malformed, NoUsage, Incomplete, ProviderError,
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
