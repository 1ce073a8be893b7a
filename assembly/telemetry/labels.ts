// Values that enter a stat name. The name carries its tags as `|key=value` segments for the
// bootstrap stats_tags regexes `(\|key=([^|]*))`, so a value holding `|` or `=` could forge or
// split a label, and one holding `"`, `\` or a newline would need escaping downstream. Anything
// but a conservative set of characters becomes `_`, and the length is capped.
export const MAX_LABEL_BYTES = 96;
export const UNKNOWN = "unknown";
export const OTHER = "other";

// @ts-ignore: decorator
@inline
function allowed(c: u32): bool {
  return (c - 0x30 < 10) || ((c | 0x20) - 0x61 < 26) || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2f || c == 0x40 || c == 0x2b;
}

/** A label value from raw bytes (a model name from a body): ASCII-safe, bounded, never empty. */
export function labelFromBytes(bytes: Uint8Array | null): string {
  if (bytes === null || bytes.length == 0) return UNKNOWN;
  const n = min(bytes.length, MAX_LABEL_BYTES);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = <u32>unchecked(bytes[i]);
    unchecked(out[i] = allowed(c) ? <u8>c : 0x5f);
  }
  return String.UTF8.decode(out.buffer);
}

/** A label value from a string (a header, node metadata). */
export function labelFromString(s: string | null): string {
  if (s === null || s.length == 0) return UNKNOWN;
  return labelFromBytes(Uint8Array.wrap(String.UTF8.encode(s)));
}
