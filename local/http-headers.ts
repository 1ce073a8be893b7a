// HTTP/1 header plumbing between Node's http module and the filter's header lists: the request
// target a sidecar sees, header pairs in wire order, and the hop-by-hop headers a proxy drops.

/** Hop-by-hop headers (RFC 9110 7.6.1) and the ones Envoy's codec owns. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "proxy-authenticate",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "expect",
]);

/** Splits an HTTP/1 request target into the authority and the path the filter sees. */
export function requestTarget(
  url: string,
  hostHeader: string | undefined,
): { authority: string; path: string; scheme: string } | undefined {
  const m = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)([^#]*)/.exec(url);
  if (m) {
    const path = m[3] === "" ? "/" : m[3].startsWith("?") ? "/" + m[3] : m[3];
    return { authority: m[2], path, scheme: m[1].toLowerCase() };
  }
  if (!url.startsWith("/") && url !== "*") return undefined;
  return { authority: hostHeader ?? "", path: url, scheme: "http" };
}

/** Node's rawHeaders (name, value, name, value...) as lowercase-name pairs. */
export function headerPairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2) out.push([raw[i].toLowerCase(), raw[i + 1]]);
  return out;
}

/** Pairs → Node's header object (repeated names become arrays), skipping pseudo and hop-by-hop headers. */
export function toNodeHeaders(
  pairs: readonly (readonly [string, string])[],
  skip: Set<string> = HOP_BY_HOP,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [k, v] of pairs) {
    if (k.startsWith(":") || skip.has(k)) continue;
    const prev = out[k];
    if (prev === undefined) out[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else out[k] = [prev, v];
  }
  return out;
}

/** The headers a proxy must not forward: hop-by-hop ones and those `connection` names. */
export function connectionListed(pairs: readonly (readonly [string, string])[]): Set<string> {
  const s = new Set(HOP_BY_HOP);
  for (const [k, v] of pairs) if (k === "connection") for (const t of v.split(",")) s.add(t.trim().toLowerCase());
  return s;
}
