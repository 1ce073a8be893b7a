// Stats tag extraction as Envoy does it (source/common/stats/tag_extractor_impl.cc
// TagExtractorStdRegexImpl::extractTag, source/common/stats/tag_producer_impl.cc produceTags).
// Envoy compiles `stats_tags[].regex` with std::regex (ECMAScript grammar), which JS RegExp
// follows closely; patterns using RE2-only or Perl-only syntax may differ.

export interface StatsTagConfig {
  tag_name: string;
  regex?: string;
  fixed_value?: string;
}

export interface Tag {
  name: string;
  value: string;
}

interface Extractor {
  name: string;
  regex: RegExp | null;
  fixed?: string;
}

/** Istio's bootstrap tags (pilot-agent's bootstrap from tools/packaging/common/
 * envoy_bootstrap.json, as rendered for the sleep sidecar by Istio 1.31: tests/fixtures/istiod/,
 * which tests/istiod-goldens.test.ts compares this list with). They run on every stat name, the
 * filter's included. */
export const ISTIO_DEFAULT_TAGS: StatsTagConfig[] = [
  { tag_name: "cluster_name", regex: "^cluster(\\.(.+);)" },
  { tag_name: "http_conn_manager_prefix", regex: "^http\\.(((?:[_.[:digit:]\\w]*|[_\\[\\]aAbBcCdDeEfF[:digit:]\\w\\:]*));\\.)" },
  { tag_name: "thread_name", regex: "^server(\\.(.+))\\.watchdog" },
  { tag_name: "tcp_prefix", regex: "^tcp\\.((.*?)\\.)\\w+?$" },
  { tag_name: "response_code", regex: "_rq(_(\\d{3}))$" },
  { tag_name: "response_code_class", regex: "_rq(_(\\dxx))$" },
  {
    tag_name: "http_conn_manager_listener_prefix",
    regex: "^listener(?=\\.).*?\\.http\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)",
  },
  { tag_name: "listener_address", regex: "^listener\\.(((?:[_.[:digit:]]*|[_\\[\\]aAbBcCdDeEfF[:digit:]]*))\\.)" },
  { tag_name: "mongo_prefix", regex: "^mongo\\.(.+?)\\.(collection|cmd|cx_|op_|delays_|decoding_)(.*?)$" },
  { tag_name: "cache", regex: "(cache\\.(.+?)\\.)" },
  { tag_name: "component", regex: "(component\\.(.+?)\\.)" },
  { tag_name: "tag", regex: "(tag\\.(.+?);\\.)" },
  { tag_name: "wasm_filter", regex: "(wasm_filter\\.(.+?)\\.)" },
  { tag_name: "authz_enforce_result", regex: "rbac(\\.(allowed|denied))" },
  { tag_name: "authz_dry_run_action", regex: "(\\.istio_dry_run_(allow|deny)_)" },
  { tag_name: "authz_dry_run_result", regex: "(\\.shadow_(allowed|denied))" },
];

export class TagProducer {
  private readonly extractors: Extractor[];

  constructor(configs: readonly StatsTagConfig[] = []) {
    this.extractors = configs.map((c) => {
      if (c.regex !== undefined && c.regex !== "") {
        // POSIX classes such as [:digit:] appear in Envoy's own defaults (std::regex supports
        // them); JS does not, so translate the ones Envoy uses.
        const src = c.regex.replace(/\[:digit:\]/g, "0-9").replace(/\[:alpha:\]/g, "a-zA-Z");
        return { name: c.tag_name, regex: new RegExp(src, "d") };
      }
      return { name: c.tag_name, regex: null, fixed: c.fixed_value ?? "" };
    });
  }

  /** Returns the tag-extracted name and the tags (in stats_tags order). Every regex runs on
   * the ORIGINAL name; the characters of capture group 1 are removed at the end (union of
   * intervals, like IntervalSetImpl + StringUtil::removeCharacters). */
  produceTags(name: string): { extractedName: string; tags: Tag[] } {
    const tags: Tag[] = [];
    const remove: [number, number][] = [];
    for (const ex of this.extractors) {
      if (!ex.regex) {
        tags.push({ name: ex.name, value: ex.fixed ?? "" }); // fixed_value: default tag
        continue;
      }
      const m = (ex.regex as RegExp & { hasIndices?: boolean }).exec(name);
      // "The regex must match and contain one or more subexpressions."
      if (!m || m.length <= 1 || m[1] === undefined) continue;
      const removeText = m[1];
      const value = m.length > 2 && m[2] !== undefined ? m[2] : removeText;
      tags.push({ name: ex.name, value });
      const start = indexOfGroup1(m);
      remove.push([start, start + removeText.length]);
    }
    if (remove.length === 0) return { extractedName: name, tags };
    const drop = new Uint8Array(name.length);
    for (const [s, e] of remove) drop.fill(1, s, e);
    let out = "";
    for (let i = 0; i < name.length; i++) if (!drop[i]) out += name[i];
    return { extractedName: out, tags };
  }
}

/** Offset of capture group 1 in `name` (uses the `d` flag indices when available). */
function indexOfGroup1(m: RegExpExecArray): number {
  const indices = (m as RegExpExecArray & { indices?: [number, number][] }).indices;
  if (indices && indices[1]) return indices[1][0];
  // Without indices: group 1 lies inside the whole match; take its first occurrence there.
  const within = m[0].indexOf(m[1]);
  return m.index + (within >= 0 ? within : 0);
}
