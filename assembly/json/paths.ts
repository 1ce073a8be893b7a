// A tiny trie of the JSON object paths one API shape cares about ("usage.prompt_tokens"...).
// The scanner walks it key by key; everything outside it is skipped without being looked at.
// Built once per shape with add(); lookups (one per key of an interesting object, so per SSE
// event too) go through flat arrays: children as sibling lists, keys by length and bytes.
import { Field } from "../apis/fields";

/** Fields per API shape: the scanner's per-field tables have this many rows. */
export const MAX_FIELDS: i32 = Field.Count;
/** Root-key first bytes the SSE prefilter's SIMD search takes (json/simd.ts findQuoteBefore):
 *  five, so Anthropic's root keys (model/message, usage, error, stop_reason, delta) fit. */
export const ROOT_FIRST_MAX: i32 = 5;
/** Depth levels whose container kind and trie node the scanner remembers; a path has at most
 *  this many segments (a deeper one could never match). */
export const TRACK: i32 = 8;
// The tries keep sets of fields as u32 bits (below, sumFields): a compile error, not a wrong bit.
if (MAX_FIELDS > 32) ERROR("apis/fields.ts: more than 32 fields; PathTrie's u32 field sets cannot hold them");

/** Trie node 0 is the root object. A node may be a field (fieldId >= 0) and a parent at once.
 *  A path segment `[]` stands for every element of an array at that point ("usage.models.[]
 *  .input_tokens"; a leading "[]." for the elements of a root array, as Gemini's unframed
 *  stream sends): such a node is found through `element`, never by a key. */
export class PathTrie {
  /** Number of nodes. */
  size: i32 = 1;
  keys: StaticArray<Uint8Array> = [new Uint8Array(0)];
  parents: StaticArray<i32> = [-1];
  fields: StaticArray<i32> = [-1];
  hasChildren: StaticArray<bool> = [false];
  /** Bit f set: field f lies strictly below this node (cleared when the node's key repeats). */
  below: StaticArray<u32> = [0];
  /** The node standing for the elements of the array at each node, or -1. */
  element: StaticArray<i32> = [-1];
  /** The node for the elements of a root array, or -1 (the root is otherwise an object). */
  rootElement: i32 = -1;
  /** Bit f set: occurrences of field f add up within one document (ApiShape.responseSum). */
  sumFields: u32 = 0;
  firstChild: StaticArray<i32> = [-1];
  nextSibling: StaticArray<i32> = [-1];
  /** The distinct first bytes of the root's keys, packed little-endian (at most
   *  ROOT_FIRST_MAX; see rootFirstCount), for the SSE event prefilter (json/prefilter.ts). */
  rootFirstBytes: u64 = 0;
  /** How many distinct first bytes the root's keys have; above ROOT_FIRST_MAX the prefilter
   *  looks at every quote instead. */
  rootFirstCount: i32 = 0;

  /** Every distinct key name at any depth (an array's `[]` is no name), for the prefilter's
   *  every-key search (json/prefilter.ts quietByEveryKey), chained by first byte. */
  names: StaticArray<Uint8Array> = [];
  /** Per name: the fields a value under a key of that name fills itself (its nodes' own fields,
   *  and those of the array elements directly below them, which no key names). */
  nameFields: StaticArray<u32> = [];
  nameNext: StaticArray<i32> = [];
  nameLen: StaticArray<i32> = [];
  /** Per first byte: the first name starting with it, or -1. */
  nameByFirst: StaticArray<i32> = new StaticArray<i32>(256).fill(-1);
  /** A field on the elements of a root array: no key names it, so no key search can clear it. */
  unkeyedField: bool = false;

  /** The first path add() refused, with the reason; null when every path was taken. Checked
   *  when the plugin is configured (apis/registry.ts shapesError), so a shape with a field out
   *  of range or a path deeper than TRACK fails configuration instead of writing past the
   *  scanner's tables or never matching. */
  error: string | null = null;

  /** Adds a dotted path (keys without dots) and the field it fills; a path past the limits
   *  is refused (see `error`) and leaves the trie as it was. */
  add(path: string, fieldId: i32): PathTrie {
    let node = 0;
    const parts = path.split(".");
    if (fieldId < 0 || fieldId >= MAX_FIELDS) {
      if (this.error === null) this.error = "path '" + path + "': field id " + fieldId.toString() + " outside 0.." + (MAX_FIELDS - 1).toString();
      return this;
    }
    if (parts.length > TRACK) {
      if (this.error === null) this.error = "path '" + path + "': " + parts.length.toString() + " segments, deeper than the scanner tracks (" + TRACK.toString() + ")";
      return this;
    }
    for (let i = 0; i < parts.length; i++) {
      const key = Uint8Array.wrap(String.UTF8.encode(parts[i]));
      if (parts[i] == "[]") {
        const root = i == 0;
        let elem = root ? this.rootElement : this.element[node];
        if (elem < 0) {
          elem = this.size++;
          this.keys = grow<Uint8Array>(this.keys, key);
          this.parents = grow<i32>(this.parents, root ? -1 : node);
          this.fields = grow<i32>(this.fields, -1);
          this.hasChildren = grow<bool>(this.hasChildren, false);
          this.below = grow<u32>(this.below, 0);
          this.nextSibling = grow<i32>(this.nextSibling, -1);
          this.firstChild = grow<i32>(this.firstChild, -1);
          this.element = grow<i32>(this.element, -1);
          if (root) this.rootElement = elem;
          else {
            this.element[node] = elem;
            // a repeated key holding the array forgets what its earlier value filled (scanner's
            // duplicate-key rule runs for nodes with children)
            this.hasChildren[node] = true;
          }
        }
        node = elem;
        continue;
      }
      let next = this.lookup(node, key.dataStart, key.length);
      if (next < 0) {
        next = this.size++;
        this.keys = grow<Uint8Array>(this.keys, key);
        this.parents = grow<i32>(this.parents, node);
        this.fields = grow<i32>(this.fields, -1);
        this.hasChildren = grow<bool>(this.hasChildren, false);
        this.below = grow<u32>(this.below, 0);
        this.nextSibling = grow<i32>(this.nextSibling, this.firstChild[node]);
        this.firstChild = grow<i32>(this.firstChild, -1);
        this.element = grow<i32>(this.element, -1);
        this.firstChild[node] = next;
        this.hasChildren[node] = true;
        if (node == 0) this.noteRootKey(key);
        if (this.nameIndex(key.dataStart, key.length) < 0) this.noteName(key);
      }
      node = next;
    }
    this.fields[node] = fieldId;
    // The key whose value holds this field: the node's own, or the one above its array levels.
    let owner = node;
    while (owner >= 0 && this.isElement(owner)) owner = this.parents[owner];
    if (owner <= 0) this.unkeyedField = true; // the root itself, or a root array's elements
    else {
      const key = this.keys[owner];
      const i = this.nameIndex(key.dataStart, key.length);
      this.nameFields[i] |= (<u32>1) << <u32>fieldId;
    }
    for (let up = this.parents[node]; up > 0; up = this.parents[up]) this.below[up] |= (<u32>1) << <u32>fieldId;
    return this;
  }

  private noteRootKey(key: Uint8Array): void {
    if (key.length == 0) {
      this.rootFirstCount = ROOT_FIRST_MAX + 1; // an empty key: its opening quote is followed by a quote; no prefilter
      return;
    }
    const b = <u64>key[0];
    for (let i = 0; i < this.rootFirstCount && i < ROOT_FIRST_MAX; i++) if (((this.rootFirstBytes >> (<u64>i << 3)) & 0xff) == b) return;
    if (this.rootFirstCount < ROOT_FIRST_MAX) this.rootFirstBytes |= b << (<u64>this.rootFirstCount << 3);
    this.rootFirstCount++;
  }

  private noteName(key: Uint8Array): void {
    const i = this.names.length;
    const first = key.length > 0 ? <i32>key[0] : 0x22; // an empty name: the closing quote follows
    this.names = grow<Uint8Array>(this.names, key);
    this.nameFields = grow<u32>(this.nameFields, 0);
    this.nameNext = grow<i32>(this.nameNext, this.nameByFirst[first]);
    this.nameLen = grow<i32>(this.nameLen, key.length);
    this.nameByFirst[first] = i;
  }

  private isElement(node: i32): bool {
    if (node == this.rootElement) return true;
    const parent = this.parents[node];
    return parent >= 0 && this.element[parent] == node;
  }

  /** The index of the key name made of the `len` bytes at ptr (ptr[len] may be read: the
   *  closing quote), or -1. */
  nameIndex(ptr: usize, len: i32): i32 {
    const first = len > 0 ? <i32>load<u8>(ptr) : 0x22;
    for (let i = unchecked(this.nameByFirst[first]); i >= 0; i = unchecked(this.nameNext[i])) {
      if (unchecked(this.nameLen[i]) == len && memory.compare(unchecked(this.names[i]).dataStart, ptr, len) == 0) return i;
    }
    return -1;
  }

  /** The child of `node` named by the bytes at ptr, or -1. */
  lookup(node: i32, ptr: usize, len: i32): i32 {
    for (let i = unchecked(this.firstChild[node]); i >= 0; i = unchecked(this.nextSibling[i])) {
      const key = unchecked(this.keys[i]);
      if (key.byteLength == len && load<u8>(key.dataStart) == load<u8>(ptr) && memory.compare(key.dataStart, ptr, len) == 0) return i;
    }
    return -1;
  }
}

/** A copy of `a` with `v` appended (the trie is built once; lookups want flat arrays). */
function grow<T>(a: StaticArray<T>, v: T): StaticArray<T> {
  const out = new StaticArray<T>(a.length + 1);
  for (let i = 0; i < a.length; i++) out[i] = a[i];
  out[a.length] = v;
  return out;
}
