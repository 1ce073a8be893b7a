// The SSE event prefilter: decides, at memory-scan speed, that reading one whole event with the
// full scanner could not change anything, so the event can be passed over. Most events of a
// stream are answer text: an OpenAI chunk repeats `"model":"<the same model>"` and
// `"usage":null` in every event, an Anthropic content_block_delta names no field at all.
//
// Why this is exact (the caller also requires that an earlier event of the stream parsed, so
// whether this one is sound no longer matters, and that the event's data is one line here):
// - a field can only be filled from a key of the root object that is a root key of the trie,
//   and a key is decoded before it is compared ("mod\u0065l" is model). The raw bytes of a key
//   whose decoded value is a root key name either are the name, or differ from it first at a
//   backslash (an escape starts with one). So every `"` followed by one of the root keys' first
//   bytes or by `\` is looked at (a SIMD search); the name is compared byte by byte, and a
//   backslash where a name byte is expected makes the event a candidate (no skip).
// - the scanner takes a string as a key only after `{` or `,` (bytes <= 0x20 between), so a
//   quote preceded by anything else (a value's opening quote, `"content":"\n..."`) is no key.
// - a root key whose value is `null` changes nothing: every field's merge ignores null
//   (usage.ts: counts, model and error all treat null as no value). A key whose value is a
//   string byte-equal to `known` (the model already kept, no escapes) changes nothing either.
// - any other value of a root key changes nothing when no field the caller still needs lies
//   below that key (`ignored`: the content that marks the first token, once it was seen), as
//   for Anthropic's `delta` and the Responses API's `delta`.
// Shapes with more root keys (OpenAI's, whose `choices` holds the finish reason, content and on
// some servers usage) are judged by every key at every depth instead (quietByEveryKey).
// Over-approximating is always safe: any doubt means the full scanner reads the event.
import { PathTrie, ROOT_FIRST_MAX } from "./paths";
import { findQuote, findQuoteBefore } from "./simd";
import { isLiteralByte } from "./chars";

/** Whether the event data [ptr, ptr + len) can be passed over (see above). `knownField`'s value
 *  equal to `known` counts as no change. */
export function quietEvent(trie: PathTrie, ptr: usize, len: i32, knownField: i32, known: Uint8Array | null, ignored: u32 = 0): bool {
  const end = ptr + <usize>len;
  if (trie.rootFirstCount > ROOT_FIRST_MAX) return false; // quietByEveryKey serves these shapes
  const packed = trie.rootFirstBytes;
  // Unused slots repeat the first byte (a root with no keys repeats 0: no `"` is followed by a
  // NUL in an event, and if one is, the check below just finds no name).
  const b0 = <u8>packed;
  const b1 = trie.rootFirstCount > 1 ? <u8>(packed >> 8) : b0;
  const b2 = trie.rootFirstCount > 2 ? <u8>(packed >> 16) : b0;
  const b3 = trie.rootFirstCount > 3 ? <u8>(packed >> 24) : b0;
  const b4 = trie.rootFirstCount > 4 ? <u8>(packed >> 32) : b0;
  let p = ptr;
  for (;;) {
    p = findQuoteBefore(p, end, b0, b1, b2, b3, b4);
    if (p >= end) return true;
    if (keyPosition(ptr, p)) {
      const node = matchRootKey(trie, p + 1, end);
      if (node == -2) return false;
      if (node >= 0 && !unchangedBy(trie, node, p + 1 + <usize>unchecked(trie.keys[node]).length + 1, end, knownField, known, ignored)) return false;
    }
    p++;
  }
  // biome-ignore lint/correctness/noUnreachable: AssemblyScript requires a return after for (;;)
  return true;
}

/** Whether a shape's events are judged by every key (quietByEveryKey) rather than by the root
 *  keys: when its root keys start with more than five distinct bytes, or when a root key holds
 *  both what marks every chunk (`perChunk`: content, finish reason) and other fields, as
 *  OpenAI's `choices` holds content, finish_reason and, on some servers, usage: that key comes
 *  in every event, and the root-key search would read them all. */
export function judgedByEveryKey(trie: PathTrie, perChunk: u32): bool {
  if (trie.rootFirstCount > ROOT_FIRST_MAX) return true;
  for (let i = trie.firstChild[0]; i >= 0; i = trie.nextSibling[i]) {
    const below = trie.below[i];
    if ((below & perChunk) != 0 && (below & ~perChunk) != 0) return true;
  }
  return false;
}

/** Whether the event data [ptr, ptr + len) can be passed over, judged by every key at every
 *  depth (for the shapes judgedByEveryKey picks).
 *
 *  Why this is exact: a field is filled by the value under a key whose decoded name is the
 *  field's key in the trie (or, for array elements, the key above the arrays). Every quote that
 *  may open a key (keyPosition) is looked at: a raw name holding a backslash may decode to any
 *  name, so the event is read; a name the trie does not have fills nothing itself (what lies
 *  below it is looked at key by key, as every key is); a name the trie has changes nothing when
 *  its value is `null`, when none of the fields it fills directly still matters (`ignored`),
 *  or when it fills only `knownField` with the value `known`. Unlike the root-key search this
 *  sees a finish reason or usage wherever it is, so `ignored` needs no finish reason. */
export function quietByEveryKey(trie: PathTrie, ptr: usize, len: i32, knownField: i32, known: Uint8Array | null, ignored: u32): bool {
  if (trie.unkeyedField) return false;
  const end = ptr + <usize>len;
  const byFirst = trie.nameByFirst;
  for (let p = findQuote(ptr, end); p < end; p = findQuote(p + 1, end)) {
    const name = p + 1;
    if (name >= end) return !keyPosition(ptr, p); // a key may go on past the data
    // A raw name decodes to one starting with its first byte, unless that is a backslash: no
    // trie name starts so, and no key is looked at further (most quotes end here).
    const first = load<u8>(name);
    if (first != 0x5c && unchecked(byFirst[first]) < 0) continue;
    if (!keyPosition(ptr, p)) continue;
    let q = name;
    for (; q < end; q++) {
      const c = load<u8>(q);
      if (c == 0x22) break;
      if (c == 0x5c) return false; // an escape: the decoded name could be any
    }
    if (q >= end) return false;
    const i = trie.nameIndex(name, <i32>(q - name));
    if (i >= 0 && !valueChangesNothing(unchecked(trie.nameFields[i]), q + 1, end, knownField, known, ignored)) return false;
  }
  return true;
}

/** Whether the value after a key filling `fields` (from `p`, just past the key's closing
 *  quote) changes nothing (see quietByEveryKey). */
function valueChangesNothing(fields: u32, p: usize, end: usize, knownField: i32, known: Uint8Array | null, ignored: u32): bool {
  p = skipBlanks(p, end);
  if (p >= end || load<u8>(p) != 0x3a) return false; // no colon: let the scanner judge
  p = skipBlanks(p + 1, end);
  if (p >= end) return false;
  if (isNull(p, end)) return true;
  const live = fields & ~ignored;
  if (live == 0) return true;
  return live == (<u32>1) << <u32>knownField && isKnownString(p, end, known);
}

/** Whether the quote at `q` may open a key: the previous byte above 0x20 is `{` or `,`, or there
 *  is none (the data's start; conservative). */
function keyPosition(start: usize, q: usize): bool {
  let p = q;
  while (p > start) {
    p--;
    const c = load<u8>(p);
    if (c > 0x20) return c == 0x7b || c == 0x2c;
  }
  return true;
}

/** The root key named by the bytes at `s` and closed by a quote, -1 for none, -2 when a
 *  backslash (an escape) or the end of the data leaves it open. */
function matchRootKey(trie: PathTrie, s: usize, end: usize): i32 {
  for (let i = unchecked(trie.firstChild[0]); i >= 0; i = unchecked(trie.nextSibling[i])) {
    const key = unchecked(trie.keys[i]);
    const n = key.length;
    const name = key.dataStart;
    let k = 0;
    for (; k < n; k++) {
      if (s + <usize>k >= end) return -2;
      const b = load<u8>(s + <usize>k);
      if (b != load<u8>(name + <usize>k)) {
        if (b == 0x5c) return -2;
        break;
      }
    }
    if (k < n) continue;
    if (s + <usize>n >= end) return -2;
    const b = load<u8>(s + <usize>n);
    if (b == 0x22) return i;
    if (b == 0x5c) return -2;
  }
  return -1;
}

/** Whether the value after a root key (from `p`, just past its closing quote) changes nothing. */
function unchangedBy(trie: PathTrie, node: i32, p: usize, end: usize, knownField: i32, known: Uint8Array | null, ignored: u32): bool {
  p = skipBlanks(p, end);
  if (p >= end || load<u8>(p) != 0x3a) return false; // no colon: let the scanner judge
  p = skipBlanks(p + 1, end);
  if (p >= end) return false;
  if (isNull(p, end)) return true;
  if (unchecked(trie.fields[node]) == knownField && isKnownString(p, end, known)) return true;
  const own = unchecked(trie.fields[node]);
  if (own >= 0 && (ignored & ((<u32>1) << <u32>own)) == 0) return false;
  return (unchecked(trie.below[node]) & ~ignored) == 0;
}

function skipBlanks(p: usize, end: usize): usize {
  while (p < end && load<u8>(p) <= 0x20) p++;
  return p;
}

/** Whether the value at `p` (p < end) is the literal `null`, whole. */
function isNull(p: usize, end: usize): bool {
  if (p + 4 > end || load<u32>(p) != 0x6c6c756e) return false; // "null"
  return p + 4 == end || !isLiteralByte(load<u8>(p + 4));
}

/** Whether the value at `p` is the string `known`, unescaped. */
function isKnownString(p: usize, end: usize, known: Uint8Array | null): bool {
  if (known === null || load<u8>(p) != 0x22) return false;
  const n = known.length;
  const v = p + 1;
  if (v + <usize>n >= end) return false;
  const k = known.dataStart;
  for (let i = 0; i < n; i++) {
    const b = load<u8>(v + <usize>i);
    if (b != load<u8>(k + <usize>i) || b == 0x5c) return false; // an escape: raw is not decoded
  }
  return load<u8>(v + <usize>n) == 0x22;
}
