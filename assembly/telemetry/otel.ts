// The OpenTelemetry GenAI semantic-convention families (semconv v1.37.0, gen-ai-metrics.md),
// published next to or instead of asm_llm_proxy_* (config `metricNames`). Names are the
// Prometheus forms of the semconv names; attributes become tags named after them, encoded in
// the stat name as `|gen_ai_request_model=...` for the bootstrap stats_tags.
// One deviation, forced by proxy-wasm: a histogram records unsigned integers with no unit, so
// durations are integer milliseconds, and the families carry the `_milliseconds` suffix an
// OpenTelemetry-to-Prometheus exporter gives a histogram whose unit is `ms` (semconv says `s`;
// the bootstrap's buckets are semconv's advisory boundaries times 1000).
import { defineMetric, recordHistogram, MetricType } from "../envoy";
import { MAX_CACHED_IDS, SeriesSample } from "./metrics";

export const enum MetricNames { Asm = 1, Otel = 2, Both = 3 }

/** `metricNames` from the configuration: -1 when not one of asm, otel, both. */
export function metricNamesOf(value: string): i32 {
  if (value == "asm") return MetricNames.Asm;
  if (value == "otel") return MetricNames.Otel;
  if (value == "both") return MetricNames.Both;
  return -1;
}

/** gen_ai.client.token.usage ({token}), by gen_ai.token.type input / output. */
export const OTEL_TOKEN_USAGE = "gen_ai_client_token_usage";
/** gen_ai.server.time_to_first_token (streamed responses). */
export const OTEL_TIME_TO_FIRST_TOKEN = "gen_ai_server_time_to_first_token_milliseconds";
/** gen_ai.server.time_per_output_token (streamed responses). */
export const OTEL_TIME_PER_OUTPUT_TOKEN = "gen_ai_server_time_per_output_token_milliseconds";
/** gen_ai.client.operation.duration: the sidecar of the caller measures the client's view... */
export const OTEL_CLIENT_DURATION = "gen_ai_client_operation_duration_milliseconds";
/** ...gen_ai.server.request.duration: the model server's sidecar (direction inbound) the server's. */
export const OTEL_SERVER_DURATION = "gen_ai_server_request_duration_milliseconds";

const enum Family { Input = 0, Output, FirstToken, PerOutputToken, Duration }
const FAMILIES = 5;

/** gen_ai.provider.name: semconv's well-known value for the destination host where there is
 *  one, else the API shape's family (an OpenAI-compatible provider without a well-known value
 *  is named by its host in server_address). */
export function providerName(host: string, shape: string): string {
  if (host == "api.openai.com") return "openai";
  if (host.endsWith(".openai.azure.com")) return "azure.ai.openai";
  if (host.endsWith(".services.ai.azure.com") || host.endsWith(".models.ai.azure.com")) return "azure.ai.inference";
  if (host == "api.anthropic.com") return "anthropic";
  if (host == "generativelanguage.googleapis.com") return "gcp.gemini";
  if (host.endsWith("aiplatform.googleapis.com")) return "gcp.vertex_ai";
  if (host.startsWith("bedrock-runtime.") && host.endsWith(".amazonaws.com")) return "aws.bedrock";
  if (host == "api.deepseek.com") return "deepseek";
  if (host == "api.groq.com") return "groq";
  if (host == "api.mistral.ai") return "mistral_ai";
  if (host == "api.x.ai") return "x_ai";
  if (host == "api.perplexity.ai") return "perplexity";
  if (host == "api.cohere.com" || host == "api.cohere.ai") return "cohere";
  if (host.startsWith("dashscope") && host.endsWith(".aliyuncs.com")) return "dashscope";
  if (shape == "gemini") return "gcp.gemini";
  if (shape.startsWith("bedrock")) return "aws.bedrock";
  if (shape == "responses") return "openai";
  if (shape.startsWith("dashscope")) return "dashscope";
  return shape;
}

/** gen_ai.operation.name for an API shape. */
export function operationName(shape: string): string {
  if (shape == "gemini") return "generate_content";
  if (shape == "dashscope-apps") return "invoke_agent";
  return "chat";
}

export class OtelMetrics {
  private series: Map<string, StaticArray<i64>> = new Map<string, StaticArray<i64>>();

  /** `tags` are the request's `|key=value` segments (built by the caller, values sanitised). */
  addSample(tags: string, sample: SeriesSample, inbound: bool): void {
    // One VM may serve an inbound and an outbound listener: the side is part of the key.
    const key = inbound ? "in" + tags : tags;
    let ids: StaticArray<i64>;
    if (this.series.has(key)) {
      ids = this.series.get(key);
    } else {
      if (this.series.size >= MAX_CACHED_IDS) return;
      ids = new StaticArray<i64>(FAMILIES);
      for (let i = 0; i < FAMILIES; i++) unchecked(ids[i] = -1);
      this.series.set(key, ids);
    }
    record(ids, Family.Input, tags, inbound, sample.promptTokens);
    record(ids, Family.Output, tags, inbound, sample.completionTokens);
    record(ids, Family.FirstToken, tags, inbound, sample.timeToFirstTokenMs);
    record(ids, Family.PerOutputToken, tags, inbound, sample.timePerOutputTokenMs);
    record(ids, Family.Duration, tags, inbound, sample.requestDurationMs);
  }
}

function record(ids: StaticArray<i64>, family: Family, tags: string, inbound: bool, value: i64): void {
  if (value < 0) return;
  let id = unchecked(ids[family]);
  if (id < 0) {
    // The name is built once per series, when it is defined.
    id = defineMetric(MetricType.Histogram, familyName(family, inbound) + tags + tokenType(family));
    if (id < 0) return;
    unchecked(ids[family] = id);
  }
  recordHistogram(<u32>id, value);
}

function familyName(family: Family, inbound: bool): string {
  switch (family) {
    case Family.Input:
    case Family.Output: return OTEL_TOKEN_USAGE;
    case Family.FirstToken: return OTEL_TIME_TO_FIRST_TOKEN;
    case Family.PerOutputToken: return OTEL_TIME_PER_OUTPUT_TOKEN;
    default: return inbound ? OTEL_SERVER_DURATION : OTEL_CLIENT_DURATION;
  }
}

function tokenType(family: Family): string {
  if (family == Family.Input) return "|gen_ai_token_type=input";
  if (family == Family.Output) return "|gen_ai_token_type=output";
  return "";
}
