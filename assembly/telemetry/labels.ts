// Values that enter a stat name. The name carries its tags as `|key=value` segments for the
// bootstrap stats_tags regexes `(\|key=([^|]*))`, so a value holding `|` or `=` could forge or
// split a label, and one holding `"`, `\` or a newline would need escaping downstream. Anything
// but a conservative set of characters becomes `_`, and the length is capped.
// Istio's bootstrap adds stats_tags of its own that are not anchored to a prefix and so run on
// our names too: `(cache\.(.+?)\.)`, `(component\.(.+?)\.)`, `(wasm_filter\.(.+?)\.)`,
// `rbac(\.(allowed|denied))`, `(\.istio_dry_run_(allow|deny)_)`, `(\.shadow_(allowed|denied))`,
// `_rq(_(\d{3}))$`, `_rq(_(\dxx))$`. A model named `a.cache.x.` or `x_rq_200` would add a label
// (cache="x", response_code="200"); the `.` or `_` those patterns need becomes `-` (see defuse).
// And Envoy drops a stat name's trailing dots: a value's trailing dots become `_`.
export const MAX_LABEL_BYTES = 96;
export const UNKNOWN = "unknown";
export const OTHER = "other";

// @ts-ignore: decorator
@inline
function allowed(c: u32): bool {
  return (c - 0x30 < 10) || ((c | 0x20) - 0x61 < 26) || c == 0x2d || c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2f || c == 0x40 || c == 0x2b;
}

// The last input and its label, per kind: a workload's calls mostly name the same model and
// host, and a repeat then costs a compare instead of three allocations (and the collector's work).
/** Longer inputs are not remembered (the copy would cost what the memo saves). */
const MAX_MEMO_BYTES = 256;
let lastBytes: Uint8Array = new Uint8Array(0);
let lastBytesLabel: string = UNKNOWN;
let lastString: string = "";
let lastStringLabel: string = UNKNOWN;

/** A label value from raw bytes (a model name from a body): ASCII-safe, bounded, never empty. */
export function labelFromBytes(bytes: Uint8Array | null): string {
  if (bytes === null || bytes.length == 0) return UNKNOWN;
  const n = bytes.length;
  if (n == lastBytes.length && memory.compare(bytes.dataStart, lastBytes.dataStart, <usize>n) == 0) return lastBytesLabel;
  const label = sanitize(bytes);
  if (n <= MAX_MEMO_BYTES) {
    lastBytes = bytes.slice(0); // a copy: the caller's array may be a reused buffer
    lastBytesLabel = label;
  }
  return label;
}

/** A label value from a string (a header, node metadata). */
export function labelFromString(s: string | null): string {
  if (s === null || s.length == 0) return UNKNOWN;
  if (s == lastString) return lastStringLabel;
  const label = sanitize(Uint8Array.wrap(String.UTF8.encode(s)));
  if (s.length <= MAX_MEMO_BYTES) {
    lastString = s;
    lastStringLabel = label;
  }
  return label;
}

function sanitize(bytes: Uint8Array): string {
  const n = min(bytes.length, MAX_LABEL_BYTES);
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const c = <u32>unchecked(bytes[i]);
    unchecked(out[i] = allowed(c) ? <u8>c : 0x5f);
  }
  defuse(out);
  return String.UTF8.decode(out.buffer);
}


/** Breaks the sequences Istio's unanchored stats_tags regexes look for (see the top). */
function defuse(v: Uint8Array): void {
  const n = v.length;
  for (let i = 0; i < n; i++) {
    if (unchecked(v[i]) != 0x2e) continue; // '.'
    if (endsWith(v, i, "cache") || endsWith(v, i, "component") || endsWith(v, i, "wasm_filter") || endsWith(v, i, "rbac")
      || startsWith(v, i + 1, "istio_dry_run_") || startsWith(v, i + 1, "shadow_")) unchecked(v[i] = 0x2d);
  }
  // Envoy drops a stat name's trailing dots, and the model ends the name: `z.` would be
  // counted as `z` (and `.` as an empty label). A value's trailing dots become `_`.
  for (let i = n - 1; i >= 0 && unchecked(v[i]) == 0x2e; i--) unchecked(v[i] = 0x5f);
  // `_rq_NNN` / `_rq_Nxx` at the end of a value (the model ends the name): `_rq-NNN`.
  if (n >= 7 && startsWith(v, n - 7, "_rq_")) {
    const a = <u32>unchecked(v[n - 3]), b = <u32>unchecked(v[n - 2]), c = <u32>unchecked(v[n - 1]);
    if (a - 0x30 < 10 && ((b - 0x30 < 10 && c - 0x30 < 10) || (b == 0x78 && c == 0x78))) unchecked(v[n - 4] = 0x2d);
  }
}

function endsWith(v: Uint8Array, end: i32, word: string): bool {
  const start = end - word.length;
  if (start < 0) return false;
  for (let i = 0; i < word.length; i++) if (<u32>unchecked(v[start + i]) != <u32>word.charCodeAt(i)) return false;
  return true;
}

function startsWith(v: Uint8Array, at: i32, word: string): bool {
  if (at + word.length > v.length) return false;
  for (let i = 0; i < word.length; i++) if (<u32>unchecked(v[at + i]) != <u32>word.charCodeAt(i)) return false;
  return true;
}
