// Counters with their tags encoded in the stat name, as the seed's bootstrap stats_tags expect:
//   asm_llm_proxy_prompt_tokens|llmproxy_source_workload=sleep|llmproxy_source_workload_namespace=default|
//   llmproxy_destination_service=dashscope.aliyuncs.com|llmproxy_model=qwen-turbo
// Envoy's proxy_define_metric returns a new id (and grows its id map) on every call, even for a
// known name, so ids are cached here. The cache never evicts: evicting and re-defining is what
// grows Envoy's id map. Its size is bounded by the label budgets (2 x maxModels x maxDestinations
// token series + a few reason counters; 20k with the defaults), and absolutely by MAX_CACHED_IDS:
// past it a new series is not created (the increment is dropped) rather than grow Envoy's map.
import { defineCounter, incrementCounter } from "../envoy";

export const PROMPT_TOKENS = "asm_llm_proxy_prompt_tokens";
export const COMPLETION_TOKENS = "asm_llm_proxy_completion_tokens";
/** Responses whose usage could not be read, by reason (tag llmproxy_reason). */
export const UNPARSED = "asm_llm_proxy_unparsed_responses";
/** Request rewrites not done, by reason (tag llmproxy_reason). */
export const REWRITE_SKIPPED = "asm_llm_proxy_rewrite_skipped";
/** Label values folded into "other" by the cardinality bound (tag llmproxy_label). */
export const LABELS_FOLDED = "asm_llm_proxy_labels_folded";

export const MAX_CACHED_IDS = 65536;

export class Counters {
  private ids: Map<string, u32> = new Map<string, u32>();

  /** Adds `amount` (> 0) to the counter `name`; false when Envoy refused or the amount is not positive. */
  add(name: string, amount: i64): bool {
    if (amount <= 0) return false; // Envoy answers BadArgument to a zero or negative increment
    const id = this.idOf(name);
    return id >= 0 && incrementCounter(<u32>id, amount);
  }

  /** The counter's id, defined on first use; -1 when Envoy refused or the cache is full. */
  private idOf(name: string): i64 {
    if (this.ids.has(name)) return this.ids.get(name);
    if (this.ids.size >= MAX_CACHED_IDS) return -1;
    const defined = defineCounter(name);
    if (defined >= 0) this.ids.set(name, <u32>defined);
    return defined;
  }

  /** The two token counters of one (destination, model) pair, by a short key: the ~150-byte
   *  tagged names are built once per pair, not per stream. */
  private tokenIds: Map<string, TokenIds> = new Map<string, TokenIds>();

  addTokens(workload: string, namespace: string, destination: string, model: string, prompt: i64, completion: i64): void {
    const key = destination + "\u0000" + model;
    let ids: TokenIds;
    if (this.tokenIds.has(key)) {
      ids = this.tokenIds.get(key);
    } else {
      if (this.tokenIds.size >= MAX_CACHED_IDS) return;
      ids = new TokenIds(
        tokenStatName(PROMPT_TOKENS, workload, namespace, destination, model),
        tokenStatName(COMPLETION_TOKENS, workload, namespace, destination, model),
      );
      this.tokenIds.set(key, ids);
    }
    if (prompt > 0) {
      if (ids.prompt < 0) ids.prompt = this.idOf(ids.promptName);
      if (ids.prompt >= 0) incrementCounter(<u32>ids.prompt, prompt);
    }
    if (completion > 0) {
      if (ids.completion < 0) ids.completion = this.idOf(ids.completionName);
      if (ids.completion >= 0) incrementCounter(<u32>ids.completion, completion);
    }
  }
}

class TokenIds {
  prompt: i64 = -1;
  completion: i64 = -1;
  constructor(public promptName: string, public completionName: string) {}
}

/** The stat name of a token counter with its four tags in the seed's order. */
export function tokenStatName(base: string, workload: string, namespace: string, destination: string, model: string): string {
  return base + "|llmproxy_source_workload=" + workload
    + "|llmproxy_source_workload_namespace=" + namespace
    + "|llmproxy_destination_service=" + destination
    + "|llmproxy_model=" + model;
}

export function reasonStatName(base: string, reason: string): string {
  return base + "|llmproxy_reason=" + reason;
}
