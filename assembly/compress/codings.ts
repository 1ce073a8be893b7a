// HTTP content codings (RFC 9110 section 8.4) against what the filter reads: which response
// `content-encoding` it can inflate, and the request's `accept-encoding` narrowed so that a
// provider answers in one of those (the `acceptEncoding` setting).
import { Wrap } from "./inflate";

/** What the filter does with a recognised LLM call's `accept-encoding`. */
export const enum AcceptEncoding {
  /** Keep only the codings the filter reads (gzip, deflate, identity); the default. */
  Narrow = 0,
  /** Never touch the request (observe only); brotli/zstd answers stay unread. */
  Keep = 1,
  /** Ask for `identity`: no compression on the provider's side of the sidecar. */
  Identity = 2,
}

/** Provider setting: inherit the configuration-wide acceptEncoding. */
export const INHERIT: i32 = -1;

export const ACCEPT_ENCODING_CHOICES = "narrow, keep, identity";

/** The setting named by `name`, or -1 when it names none. */
export function acceptEncodingMode(name: string): i32 {
  if (name == "narrow") return AcceptEncoding.Narrow;
  if (name == "keep") return AcceptEncoding.Keep;
  if (name == "identity") return AcceptEncoding.Identity;
  return -1;
}

/** How a response body is coded, for the reader. */
export const enum BodyCoding {
  Identity = 0,
  Gzip = 1,
  Deflate = 2,
  /** br, zstd, compress, several codings stacked...: not read. */
  Unreadable = 3,
}

/** The body coding a `content-encoding` value names (identity entries ignored, case-insensitive). */
export function bodyCoding(value: string | null): BodyCoding {
  if (value === null) return BodyCoding.Identity;
  const parts = value.split(",");
  let found = BodyCoding.Identity;
  for (let i = 0; i < parts.length; i++) {
    const c = parts[i].trim().toLowerCase();
    if (c.length == 0 || c == "identity") continue;
    // Two codings stacked (gzip then br...) would need two decoders: not read.
    if (found != BodyCoding.Identity) return BodyCoding.Unreadable;
    if (c == "gzip" || c == "x-gzip") found = BodyCoding.Gzip;
    else if (c == "deflate") found = BodyCoding.Deflate;
    else return BodyCoding.Unreadable;
  }
  return found;
}

/** The inflater framing for a readable coding. */
export function wrapOf(coding: BodyCoding): Wrap {
  return coding == BodyCoding.Gzip ? Wrap.Gzip : Wrap.Deflate;
}

/** A request's accept-encoding narrowed to what the filter reads, or null when it already
 *  names nothing else. Readable entries stay as sent (q-values, q=0 exclusions included);
 *  others go; `*` becomes the readable codings not named, with its q-value (`*;q=0` stays: it
 *  only excludes). When no readable coding is left acceptable, `identity`. */
export function narrowAcceptEncoding(value: string): string | null {
  const parts = value.split(",");
  const kept: string[] = [];
  let changed = false;
  let gzipNamed = false;
  let deflateNamed = false;
  let star: string | null = null;
  for (let i = 0; i < parts.length; i++) {
    const entry = parts[i].trim();
    if (entry.length == 0) continue;
    const semi = entry.indexOf(";");
    const coding = (semi >= 0 ? entry.substring(0, semi) : entry).trim().toLowerCase();
    if (coding == "gzip" || coding == "x-gzip") {
      gzipNamed = true;
      kept.push(entry);
    } else if (coding == "deflate") {
      deflateNamed = true;
      kept.push(entry);
    } else if (coding == "identity") {
      kept.push(entry);
    } else if (coding == "*") {
      if (qIsZero(entry)) kept.push(entry);
      else {
        star = semi >= 0 ? entry.substring(semi) : "";
        changed = true;
      }
    } else {
      changed = true;
    }
  }
  if (star !== null) {
    if (!gzipNamed) kept.push("gzip" + star);
    if (!deflateNamed) kept.push("deflate" + star);
  }
  if (!changed) return null;
  for (let i = 0; i < kept.length; i++) if (!qIsZero(kept[i])) return kept.join(", ");
  return "identity";
}

/** Whether an accept-encoding entry carries q=0 (0, 0.0, 0.00, 0.000: "not acceptable"). */
function qIsZero(entry: string): bool {
  const params = entry.split(";");
  for (let i = 1; i < params.length; i++) {
    const p = params[i].trim().toLowerCase();
    if (!p.startsWith("q=")) continue;
    const q = p.substring(2).trim();
    if (q.length == 0 || q.length > 5 || q.charCodeAt(0) != 0x30) return false;
    for (let j = 1; j < q.length; j++) {
      const c = q.charCodeAt(j);
      if (!(c == 0x30 || (j == 1 && c == 0x2e))) return false;
    }
    return true;
  }
  return false;
}
