// A streaming, byte-level JSON scanner in the manner of gjson: it follows only the object paths
// named in a PathTrie and skips everything else (string contents 16 bytes a step), with a few
// bytes of state so a document can arrive in chunks split anywhere. It never builds a tree,
// never recurses (100k levels of nesting cost a counter), never allocates in the hot loop, and
// never traps on malformed input: it records what it saw and whether the document was sound.
import { MAX_FIELDS, PathTrie, TRACK } from "./paths";
import { findQuoteOrBackslash, findStructural } from "./simd";
import { hexDigit, isLiteralByte } from "./chars";
/** Bytes kept of a captured key or value; a longer one is marked oversized. */
export const CAPTURE_BYTES = 512;
/** Longest integer accepted as a token count: 9 digits (< 10^9). No model has a context near
 *  that; a larger number is a broken or hostile upstream, and one such response would otherwise
 *  push a counter up by 10^15 and ruin its rate() for good. */
const MAX_DIGITS = 9;
/** The largest count (MAX_DIGITS nines); a sum past it is as absurd as a single one. */
const MAX_COUNT: i64 = 999_999_999;

// JSON grammar states (JsonScanner.gram).
const G_VALUE = 0;
const G_VALUE_OR_CLOSE = 1; // after '['
const G_KEY = 2; // after ',' in an object
const G_KEY_OR_CLOSE = 3; // after '{'
const G_COLON = 4; // after a key
const G_SEP = 5; // after a value: ',' or a closing bracket

export enum Kind { None = 0, String = 1, Number = 2, True = 3, False = 4, Null = 5, Object = 6, Array = 7, Oversized = 8 }

export class JsonScanner {
  // Results, one slot per field id; the last occurrence of a duplicate key wins.
  present: StaticArray<bool> = new StaticArray<bool>(MAX_FIELDS);
  kind: StaticArray<u8> = new StaticArray<u8>(MAX_FIELDS);
  start: StaticArray<i64> = new StaticArray<i64>(MAX_FIELDS);
  end: StaticArray<i64> = new StaticArray<i64>(MAX_FIELDS);
  /** A non-negative integer value, or -1 (not a number, a float, negative, absurd). */
  num: StaticArray<i64> = new StaticArray<i64>(MAX_FIELDS);
  /** A string value with its escapes decoded (bytes, not necessarily UTF-8), made on demand. */
  private bytes: StaticArray<Uint8Array | null> = new StaticArray<Uint8Array | null>(MAX_FIELDS);
  /** The raw bytes of the last string value of each string field, in blocks kept across
   *  resets (a pooled scanner captures its model on every SSE event without allocating). */
  private raw: StaticArray<StaticArray<u8> | null> = new StaticArray<StaticArray<u8> | null>(MAX_FIELDS);
  private rawLen: StaticArray<i32> = new StaticArray<i32>(MAX_FIELDS);

  /** Whether the input broke JSON's structure somewhere (mismatched brackets, stray bytes). */
  malformed: bool = false;
  rootIsObject: bool = false;
  rootIsArray: bool = false;
  rootSeen: bool = false;
  rootClosed: bool = false;
  /** Absolute offset just after the root object's `{`, or -1. */
  rootOpenEnd: i64 = -1;

  private depth: i32 = 0;
  private nodeAt: StaticArray<i32> = new StaticArray<i32>(TRACK + 1);
  private fieldAt: StaticArray<i32> = new StaticArray<i32>(TRACK + 1);
  private isObject: StaticArray<bool> = new StaticArray<bool>(TRACK + 1);
  // Duplicate keys: JSON.parse keeps the last value whole, so when a key with tracked fields
  // below it repeats in the same object, what the earlier value filled is forgotten. Each object
  // gets a serial number; a trie node remembers in which object its key was last seen.
  private objectSerial: u32 = 0;
  private serialAt: StaticArray<u32> = new StaticArray<u32>(TRACK + 1);
  private seenIn: StaticArray<u32>;
  /** What JSON's grammar allows next (G_*): a value, a key, a colon, a separator... A byte out
   *  of place marks the document malformed, so a body with a missing `:` or `,`, or two data
   *  lines that only join into numbers, publishes nothing. */
  private gram: i32 = G_VALUE;
  private pendingNode: i32 = -1;

  // Skipping: inside a container with nothing to find (no tracked path below it), only strings
  // and brackets matter; they are found 16 bytes a step. skipKinds is a bit stack of the
  // skipped containers' kinds (1 = object), 64 deep, so mismatched brackets are still noticed.
  private skipping: bool = false;
  private skipBase: i32 = 0;
  private skipKinds: u64 = 0;
  private inString: bool = false;
  private escaped: bool = false;
  private stringIsKey: bool = false;
  private inLiteral: bool = false;
  private capturing: bool = false;
  private captureField: i32 = -1;
  private captureLen: i32 = 0;
  private captureOverflow: bool = false;
  private captureBuf: StaticArray<u8> = new StaticArray<u8>(CAPTURE_BYTES);
  private valueStart: i64 = 0;
  private base: i64 = 0;
  private chunk: usize = 0;

  constructor(public trie: PathTrie) {
    this.seenIn = new StaticArray<u32>(trie.keys.length);
    this.reset();
  }

  reset(): void {
    // Once per SSE event: three fills rather than 36 element stores. Clearing references to
    // null needs no write barrier (it only removes edges); all-ones bytes are the i64 -1.
    memory.fill(changetype<usize>(this.present), 0, MAX_FIELDS);
    memory.fill(changetype<usize>(this.bytes), 0, MAX_FIELDS * sizeof<usize>());
    memory.fill(changetype<usize>(this.num), 0xff, MAX_FIELDS * sizeof<i64>());
    this.malformed = false;
    this.rootIsObject = false;
    this.rootIsArray = false;
    this.rootSeen = false;
    this.rootClosed = false;
    this.rootOpenEnd = -1;
    this.depth = 0;
    this.gram = G_VALUE;
    this.pendingNode = -1;
    this.inString = false;
    this.escaped = false;
    this.inLiteral = false;
    this.skipping = false;
    this.capturing = false;
    this.captureField = -1;
    this.base = 0;
  }

  /** Bytes fed so far. */
  get offset(): i64 {
    return this.base;
  }

  /** Whether the document ended cleanly: one root value, closed, nothing broken. */
  get complete(): bool {
    return this.rootSeen && this.depth == 0 && !this.inString && !this.malformed;
  }

  /** Feeds the next `len` bytes at `ptr`. */
  feed(ptr: usize, len: i32): void {
    this.chunk = ptr;
    let p = ptr;
    const end = ptr + <usize>len;
    while (p < end) {
      if (this.inString) {
        p = this.scanString(p, end);
        continue;
      }
      if (this.skipping) {
        p = this.skip(p, end);
        continue;
      }
      if (this.inLiteral) {
        p = this.scanLiteral(p, end);
        continue;
      }
      const c = load<u8>(p);
      if (c <= 0x20) {
        p++;
        continue;
      }
      if (this.rootClosed) this.malformed = true; // bytes after the root value
      switch (c) {
        case 0x22: this.openString(p); break; // "
        case 0x7b: this.open(true, p); break; // {
        case 0x5b: this.open(false, p); break; // [
        case 0x7d: this.close(true, p); break; // }
        case 0x5d: this.close(false, p); break; // ]
        case 0x3a: { // :
          if (this.gram != G_COLON) this.malformed = true;
          this.gram = G_VALUE;
          break;
        }
        case 0x2c: { // ,
          const d = this.depth;
          if (this.gram != G_SEP || d == 0) this.malformed = true;
          this.gram = d > 0 && d <= TRACK && unchecked(this.isObject[d]) ? G_KEY : G_VALUE;
          this.pendingNode = this.elementNode(d);
          break;
        }
        default: {
          if (isLiteralByte(c)) {
            this.openLiteral(p);
            continue; // the literal scanner consumes it
          }
          this.malformed = true;
        }
      }
      p++;
    }
    this.base += <i64>len;
  }

  /** Ends the document: a trailing literal (a bare number) is closed. */
  finish(): void {
    if (this.inLiteral) this.closeLiteral(this.chunk + <usize>(0)); // offset == base
  }

  // @ts-ignore: decorator
  @inline private at(p: usize): i64 {
    return this.base + <i64>(p - this.chunk);
  }

  /** In a tracked array at depth d, the node its next element takes; else -1. */
  private elementNode(d: i32): i32 {
    return d > 0 && d <= TRACK && !unchecked(this.isObject[d]) ? unchecked(this.nodeAt[d]) : -1;
  }

  private valueField(): i32 {
    const node = this.pendingNode;
    return node >= 0 ? unchecked(this.trie.fields[node]) : -1;
  }

  private open(isObject: bool, p: usize): void {
    let node = this.pendingNode;
    let field = this.valueField();
    if (this.gram != G_VALUE && this.gram != G_VALUE_OR_CLOSE) this.malformed = true;
    // An array on a tracked path may have a node for its elements (PathTrie `[]`).
    let element = node >= 0 ? unchecked(this.trie.element[node]) : -1;
    if (this.depth == 0) {
      if (this.rootSeen) this.malformed = true;
      this.rootSeen = true;
      this.rootIsObject = isObject;
      this.rootIsArray = !isObject;
      node = isObject ? 0 : -1;
      element = this.trie.rootElement;
      field = -1;
      if (isObject) this.rootOpenEnd = this.at(p) + 1;
    }
    const d = ++this.depth;
    if (d <= TRACK) {
      unchecked(this.isObject[d] = isObject);
      unchecked(this.nodeAt[d] = isObject ? (node >= 0 && unchecked(this.trie.hasChildren[node]) ? node : -1) : element);
      unchecked(this.fieldAt[d] = field);
      if (isObject) unchecked(this.serialAt[d] = ++this.objectSerial);
    }
    if (field >= 0) this.record(field, isObject ? Kind.Object : Kind.Array, this.at(p), -1);
    this.gram = isObject ? G_KEY_OR_CLOSE : G_VALUE_OR_CLOSE;
    this.pendingNode = this.elementNode(d);
    if (d > TRACK || unchecked(this.nodeAt[d]) < 0) {
      this.skipping = true;
      this.skipBase = d;
      this.skipKinds = 0;
    }
  }

  /** Skip mode: jumps from bracket to bracket (and over strings) until the container that
   *  started it closes, which goes through the ordinary close(). */
  private skip(p: usize, end: usize): usize {
    let depth = this.depth;
    const base = this.skipBase;
    while (p < end) {
      p = findStructural(p, end);
      if (p == end) break;
      const c = load<u8>(p);
      if (c == 0x22) {
        // A string that closes in this chunk (nearly all) is passed over here; one that runs
        // past the chunk's end goes through scanString (which keeps the state across the edge),
        // then skipping resumes. Either way nothing inside is looked at.
        const close = closingQuote(p + 1, end);
        if (close < end) {
          p = close + 1;
          continue;
        }
        this.depth = depth;
        this.inString = true;
        this.escaped = false;
        this.stringIsKey = false;
        this.capturing = false;
        this.captureField = -1;
        return p + 1;
      }
      if (c == 0x5c) { // a backslash outside a string
        this.malformed = true;
        p++;
        continue;
      }
      if ((c | 0x20) == 0x7b) { // '{' or '[' (0x5b | 0x20 == 0x7b)
        const rel = depth - base;
        if (rel < 64) this.skipKinds = (this.skipKinds << 1) | (c == 0x7b ? 1 : 0);
        depth++;
        p++;
        continue;
      }
      // '}' or ']'
      if (depth == base) {
        this.depth = depth;
        this.skipping = false;
        this.gram = G_SEP; // what lay inside was skipped, not checked
        this.close(c == 0x7d, p);
        return p + 1;
      }
      const rel = depth - base - 1;
      if (rel < 64) {
        if (((this.skipKinds & 1) != 0) != (c == 0x7d)) this.malformed = true;
        this.skipKinds >>= 1;
      }
      depth--;
      p++;
    }
    this.depth = depth;
    return end;
  }

  private close(isObject: bool, p: usize): void {
    const d = this.depth;
    if (d == 0) {
      this.malformed = true;
      return;
    }
    const gram = this.gram;
    if (gram != G_SEP && gram != (isObject ? G_KEY_OR_CLOSE : G_VALUE_OR_CLOSE)) this.malformed = true;
    if (d <= TRACK) {
      if (unchecked(this.isObject[d]) != isObject) this.malformed = true;
      const field = unchecked(this.fieldAt[d]);
      if (field >= 0) unchecked(this.end[field] = this.at(p) + 1);
    }
    this.depth = d - 1;
    this.gram = G_SEP;
    this.pendingNode = -1;
    if (d == 1) this.rootClosed = true;
  }

  private openString(p: usize): void {
    const d = this.depth;
    this.inString = true;
    this.escaped = false;
    this.captureLen = 0;
    this.captureOverflow = false;
    const gram = this.gram;
    if (gram == G_KEY || gram == G_KEY_OR_CLOSE) {
      this.stringIsKey = true;
      this.capturing = unchecked(this.nodeAt[d]) >= 0;
    } else {
      if (gram != G_VALUE && gram != G_VALUE_OR_CLOSE) this.malformed = true;
      if (d == 0) {
        if (this.rootSeen) this.malformed = true;
        this.rootSeen = true;
      }
      this.stringIsKey = false;
      const field = this.valueField();
      this.captureField = field;
      this.capturing = field >= 0;
      this.valueStart = this.at(p);
    }
  }

  private scanString(p: usize, end: usize): usize {
    if (this.stringIsKey && this.capturing && this.captureLen == 0 && !this.escaped) {
      // A key of a tracked object, from its first byte: when it closes in this chunk without an
      // escape, it is looked up where it lies, not copied first (one per key of every event).
      const stop = findQuoteOrBackslash(p, end);
      if (stop < end && load<u8>(stop) == 0x22) {
        if (<i32>(stop - p) <= CAPTURE_BYTES) {
          this.inString = false;
          this.capturing = false;
          this.keyClosed(this.trie.lookup(unchecked(this.nodeAt[this.depth]), p, <i32>(stop - p)));
        } else {
          // longer than a capture: as closeString would, it names nothing
          this.inString = false;
          this.capturing = false;
          this.keyClosed(-1);
        }
        return stop + 1;
      }
    }
    if (this.escaped) {
      // The byte after a backslash at the end of the previous chunk.
      this.escaped = false;
      if (this.capturing) this.append(p, 1);
      p++;
    }
    while (p < end) {
      const stop = findQuoteOrBackslash(p, end);
      if (this.capturing) this.append(p, <i32>(stop - p));
      if (stop == end) return end;
      if (load<u8>(stop) == 0x5c) {
        if (this.capturing) this.append(stop, 1);
        if (stop + 1 == end) {
          this.escaped = true;
          return end;
        }
        if (this.capturing) this.append(stop + 1, 1);
        p = stop + 2;
        continue;
      }
      this.closeString(stop);
      return stop + 1;
    }
    return end;
  }

  private closeString(p: usize): void {
    this.inString = false;
    if (this.stringIsKey) {
      const d = this.depth;
      let node = -1;
      if (this.capturing && !this.captureOverflow) {
        const buf = changetype<usize>(this.captureBuf);
        const len = this.captureLen;
        // Keys compare by their decoded value, as JSON.parse does: "mod\u0065l" is "model"
        // (else a client could slip a model past an override route).
        if (hasBackslash(buf, len)) {
          const key = decodeEscapes(buf, len);
          node = this.trie.lookup(unchecked(this.nodeAt[d]), key.dataStart, key.length);
        } else {
          node = this.trie.lookup(unchecked(this.nodeAt[d]), buf, len);
        }
      }
      this.keyClosed(node);
    } else {
      const field = this.captureField;
      if (field >= 0) {
        if (this.captureOverflow) {
          this.record(field, Kind.Oversized, this.valueStart, this.at(p) + 1);
        } else {
          this.record(field, Kind.String, this.valueStart, this.at(p) + 1);
          let block = unchecked(this.raw[field]);
          if (block === null) {
            block = new StaticArray<u8>(CAPTURE_BYTES);
            unchecked(this.raw[field] = block);
          }
          memory.copy(changetype<usize>(block), changetype<usize>(this.captureBuf), this.captureLen);
          unchecked(this.rawLen[field] = this.captureLen);
        }
      }
      this.pendingNode = -1;
      this.gram = G_SEP;
    }
    this.capturing = false;
  }

  /** A key ended: `node` is the trie node it names, or -1. */
  private keyClosed(node: i32): void {
    this.pendingNode = node;
    this.gram = G_COLON;
    if (node >= 0 && unchecked(this.trie.hasChildren[node])) {
      // A repeated key forgets what its earlier value filled (JSON.parse keeps the last).
      const serial = unchecked(this.serialAt[this.depth]);
      if (unchecked(this.seenIn[node]) == serial) this.forget(unchecked(this.trie.below[node]));
      unchecked(this.seenIn[node] = serial);
    }
  }

  private openLiteral(p: usize): void {
    if (this.gram != G_VALUE && this.gram != G_VALUE_OR_CLOSE) this.malformed = true;
    if (this.depth == 0) {
      if (this.rootSeen) this.malformed = true;
      this.rootSeen = true;
    }
    this.inLiteral = true;
    const field = this.valueField();
    this.captureField = field;
    this.capturing = field >= 0;
    this.captureLen = 0;
    this.captureOverflow = false;
    this.valueStart = this.at(p);
  }

  private scanLiteral(p: usize, end: usize): usize {
    const from = p;
    while (p < end && isLiteralByte(load<u8>(p))) p++;
    if (this.capturing) this.append(from, <i32>(p - from));
    if (p < end) this.closeLiteral(p);
    return p;
  }

  private closeLiteral(p: usize): void {
    this.inLiteral = false;
    const field = this.captureField;
    if (field >= 0) {
      const buf = changetype<usize>(this.captureBuf);
      const len = this.captureLen;
      const endAt = this.at(p);
      if (this.captureOverflow) {
        this.record(field, Kind.Oversized, this.valueStart, endAt);
      } else if (len > 0 && <u32>load<u8>(buf) - 0x30 < 10) { // a digit first: a number (or junk)
        this.recordCount(field, buf, len, endAt);
      } else if (isWord(buf, len, "true")) {
        this.record(field, Kind.True, this.valueStart, endAt);
      } else if (isWord(buf, len, "false")) {
        this.record(field, Kind.False, this.valueStart, endAt);
      } else if (isWord(buf, len, "null")) {
        this.record(field, Kind.Null, this.valueStart, endAt);
      } else {
        this.recordCount(field, buf, len, endAt);
      }
    }
    this.capturing = false;
    this.pendingNode = -1;
    this.gram = G_SEP;
  }

  /** A count (or junk, read as unknown). A summed field (ApiShape.responseSum) adds its
   *  occurrences; one that is not a count makes the sum unknown, as does a sum past the bound. */
  private recordCount(field: i32, buf: usize, len: i32, endAt: i64): void {
    const summed = (this.trie.sumFields & ((<u32>1) << <u32>field)) != 0 && unchecked(this.present[field]);
    const prior = summed && unchecked(this.kind[field]) == Kind.Number ? unchecked(this.num[field]) : -1;
    this.record(field, Kind.Number, this.valueStart, endAt);
    let n = parseCount(buf, len);
    if (summed) n = prior >= 0 && n >= 0 && prior + n <= MAX_COUNT ? prior + n : -1;
    unchecked(this.num[field] = n);
  }

  private record(field: i32, kind: Kind, start: i64, end: i64): void {
    unchecked(this.present[field] = true);
    unchecked(this.kind[field] = <u8>kind);
    unchecked(this.start[field] = start);
    unchecked(this.end[field] = end);
    unchecked(this.num[field] = -1);
    unchecked(this.bytes[field] = null);
  }

  /** Forgets the fields in `mask` (a repeated key's earlier value filled them). */
  private forget(mask: u32): void {
    while (mask != 0) {
      const f = <i32>ctz(mask);
      mask &= mask - 1;
      unchecked(this.present[f] = false);
      unchecked(this.bytes[f] = null);
      unchecked(this.num[f] = -1);
    }
  }

  private append(src: usize, len: i32): void {
    const room = CAPTURE_BYTES - this.captureLen;
    if (len > room) {
      this.captureOverflow = true;
      len = room;
    }
    if (len > 0) {
      memory.copy(changetype<usize>(this.captureBuf) + <usize>this.captureLen, src, len);
      this.captureLen += len;
    }
  }

  /** The field as a token count, or -1 when absent or not a non-negative integer. */
  count(field: i32): i64 {
    return unchecked(this.present[field]) && unchecked(this.kind[field]) == Kind.Number ? unchecked(this.num[field]) : -1;
  }

  /** The field as decoded string bytes, or null when absent or not a string. */
  string(field: i32): Uint8Array | null {
    if (!unchecked(this.present[field]) || unchecked(this.kind[field]) != Kind.String) return null;
    let decoded = unchecked(this.bytes[field]);
    if (decoded === null) {
      decoded = decodeEscapes(changetype<usize>(unchecked(this.raw[field])), unchecked(this.rawLen[field]));
      unchecked(this.bytes[field] = decoded);
    }
    return decoded;
  }

  /** Whether the field is a string equal to `other`, without decoding when it has no escapes. */
  stringEquals(field: i32, other: Uint8Array | null): bool {
    if (other === null || !unchecked(this.present[field]) || unchecked(this.kind[field]) != Kind.String) return false;
    const len = unchecked(this.rawLen[field]);
    const block = changetype<usize>(unchecked(this.raw[field]));
    if (!hasBackslash(block, len)) return len == other.length && memory.compare(block, other.dataStart, len) == 0;
    const decoded = this.string(field)!;
    return decoded.length == other.length && memory.compare(decoded.dataStart, other.dataStart, other.length) == 0;
  }

  /** Whether the field holds a value that names something: a non-empty string, or one too long
   *  to keep (null, "" and absence name nothing). */
  names(field: i32): bool {
    if (!unchecked(this.present[field])) return false;
    const kind = unchecked(this.kind[field]);
    if (kind == Kind.Oversized) return true;
    return kind == Kind.String && unchecked(this.rawLen[field]) > 0;
  }

  isTrue(field: i32): bool {
    return unchecked(this.present[field]) && unchecked(this.kind[field]) == Kind.True;
  }

  has(field: i32): bool {
    return unchecked(this.present[field]);
  }
}

/** The address of the quote closing a string whose contents start at `p`, or `end` when the
 *  string does not close before `end` (a backslash escapes the byte after it). */
// @ts-ignore: decorator
@inline
function closingQuote(p: usize, end: usize): usize {
  for (;;) {
    p = findQuoteOrBackslash(p, end);
    if (p >= end || load<u8>(p) == 0x22) return p;
    p += 2;
    if (p >= end) return end;
  }
  // biome-ignore lint/correctness/noUnreachable: AssemblyScript requires a return after for (;;)
  return end;
}


function hasBackslash(buf: usize, len: i32): bool {
  for (let i = 0; i < len; i++) if (load<u8>(buf + <usize>i) == 0x5c) return true;
  return false;
}

function isWord(buf: usize, len: i32, word: string): bool {
  if (len != word.length) return false;
  for (let i = 0; i < len; i++) {
    if (<u32>load<u8>(buf + <usize>i) != <u32>word.charCodeAt(i)) return false;
  }
  return true;
}

/** A JSON integer token as a count: digits only, at most MAX_DIGITS; anything else is -1. */
export function parseCount(buf: usize, len: i32): i64 {
  if (len == 0 || len > MAX_DIGITS) return -1;
  let v: i64 = 0;
  for (let i = 0; i < len; i++) {
    const d = <u32>load<u8>(buf + <usize>i) - 0x30;
    if (d > 9) return -1;
    v = v * 10 + <i64>d;
  }
  if (len > 1 && load<u8>(buf) == 0x30) return -1; // JSON has no leading zeros
  return v;
}

/** Decodes a JSON string body's escapes into bytes (UTF-8 for \u escapes); never traps. */
export function decodeEscapes(src: usize, len: i32): Uint8Array {
  const out = new Uint8Array(len); // decoding never lengthens
  const dst = out.dataStart;
  let o = 0;
  let i = 0;
  while (i < len) {
    const c = load<u8>(src + <usize>i);
    if (c != 0x5c || i + 1 >= len) {
      store<u8>(dst + <usize>o, c);
      o++;
      i++;
      continue;
    }
    const e = load<u8>(src + <usize>i + 1);
    i += 2;
    let b: i32 = -1;
    switch (e) {
      case 0x6e: b = 0x0a; break; // n
      case 0x74: b = 0x09; break; // t
      case 0x72: b = 0x0d; break; // r
      case 0x62: b = 0x08; break; // b
      case 0x66: b = 0x0c; break; // f
      case 0x75: { // u
        let cp = hex4(src, i, len);
        if (cp < 0) { b = e; break; }
        i += 4;
        if (cp >= 0xd800 && cp < 0xdc00 && i + 6 <= len && load<u8>(src + <usize>i) == 0x5c && load<u8>(src + <usize>i + 1) == 0x75) {
          const lo = hex4(src, i + 2, len);
          if (lo >= 0xdc00 && lo < 0xe000) {
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
            i += 6;
          }
        }
        o = putUtf8(dst, o, cp);
        continue;
      }
      default: b = e; // \" \\ \/ and unknown escapes keep the byte
    }
    store<u8>(dst + <usize>o, <u8>b);
    o++;
  }
  return out.subarray(0, o);
}

function hex4(src: usize, i: i32, len: i32): i32 {
  if (i + 4 > len) return -1;
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const d = hexDigit(<u32>load<u8>(src + <usize>(i + k)));
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}

/** Writes a code point as UTF-8 (at most as many bytes as the 6-byte escape it came from). */
function putUtf8(dst: usize, o: i32, cp: i32): i32 {
  if (cp < 0x80) {
    store<u8>(dst + <usize>o, <u8>cp);
    return o + 1;
  }
  if (cp < 0x800) {
    store<u8>(dst + <usize>o, <u8>(0xc0 | (cp >> 6)));
    store<u8>(dst + <usize>o + 1, <u8>(0x80 | (cp & 0x3f)));
    return o + 2;
  }
  if (cp < 0x10000) {
    store<u8>(dst + <usize>o, <u8>(0xe0 | (cp >> 12)));
    store<u8>(dst + <usize>o + 1, <u8>(0x80 | ((cp >> 6) & 0x3f)));
    store<u8>(dst + <usize>o + 2, <u8>(0x80 | (cp & 0x3f)));
    return o + 3;
  }
  store<u8>(dst + <usize>o, <u8>(0xf0 | (cp >> 18)));
  store<u8>(dst + <usize>o + 1, <u8>(0x80 | ((cp >> 12) & 0x3f)));
  store<u8>(dst + <usize>o + 2, <u8>(0x80 | ((cp >> 6) & 0x3f)));
  store<u8>(dst + <usize>o + 3, <u8>(0x80 | (cp & 0x3f)));
  return o + 4;
}

// Scanners are pooled per VM: a stream takes one when its body starts and gives it back when it
// is done, so the per-stream cost is a reset, not a dozen allocations (and their collection).
const POOL_MAX = 64;
const pool: JsonScanner[] = [];

export function acquireScanner(trie: PathTrie): JsonScanner {
  for (let i = pool.length - 1; i >= 0; i--) {
    const s = unchecked(pool[i]);
    if (s.trie == trie) {
      pool[i] = pool[pool.length - 1];
      pool.pop();
      return s;
    }
  }
  return new JsonScanner(trie);
}

export function releaseScanner(scanner: JsonScanner): void {
  if (pool.length >= POOL_MAX) return;
  scanner.reset();
  pool.push(scanner);
}
