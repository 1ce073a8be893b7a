// Reads `stats_config.stats_tags` from an Istio custom bootstrap (the JSON that
// `sidecar.istio.io/bootstrapOverride` points at). Envoy compiles these regexes with std::regex
// (ECMAScript grammar); they are validated here with JS RegExp, which accepts the same syntax for
// the patterns used with stats_tags (groups, classes, anchors, lazy quantifiers).
import type { StatsTagConfig } from "../envoy/tags";

export function loadBootstrapStatsTags(json: string): StatsTagConfig[] {
  let doc: unknown;
  try {
    doc = JSON.parse(json);
  } catch (e) {
    throw new Error(`bootstrap is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) throw new Error("bootstrap must be a JSON object");
  const statsConfig = (doc as Record<string, unknown>).stats_config;
  if (statsConfig === undefined) return [];
  if (typeof statsConfig !== "object" || statsConfig === null) throw new Error("stats_config must be an object");
  const tags = (statsConfig as Record<string, unknown>).stats_tags;
  if (tags === undefined) return [];
  if (!Array.isArray(tags)) throw new Error("stats_config.stats_tags must be an array");
  return tags.map((t, i) => {
    if (typeof t !== "object" || t === null) throw new Error(`stats_tags[${i}] must be an object`);
    const { tag_name, regex, fixed_value } = t as Record<string, unknown>;
    if (typeof tag_name !== "string" || tag_name === "") throw new Error(`stats_tags[${i}].tag_name must be a non-empty string`);
    if (regex !== undefined && fixed_value !== undefined) throw new Error(`stats_tags[${i}]: regex and fixed_value are exclusive`);
    if (regex !== undefined) {
      if (typeof regex !== "string") throw new Error(`stats_tags[${i}].regex must be a string`);
      try {
        new RegExp(regex);
      } catch (e) {
        throw new Error(`stats_tags[${i}].regex does not compile: ${(e as Error).message}`);
      }
      return { tag_name, regex };
    }
    if (fixed_value !== undefined && typeof fixed_value !== "string") throw new Error(`stats_tags[${i}].fixed_value must be a string`);
    return { tag_name, fixed_value: (fixed_value as string | undefined) ?? "" };
  });
}
