// A tiny trie of the JSON object paths one API shape cares about ("usage.prompt_tokens"...).
// The scanner walks it key by key; everything outside it is skipped without being looked at.

/** Trie node 0 is the root object. A node may be a field (fieldId >= 0) and a parent at once. */
export class PathTrie {
  keys: Array<Uint8Array> = [new Uint8Array(0)];
  parents: Array<i32> = [-1];
  fields: Array<i32> = [-1];
  hasChildren: Array<bool> = [false];
  /** Bit f set: field f lies strictly below this node (cleared when the node's key repeats). */
  below: Array<u32> = [0];

  /** Adds a dotted path (keys without dots) and the field it fills. */
  add(path: string, fieldId: i32): PathTrie {
    let node = 0;
    const parts = path.split(".");
    for (let i = 0; i < parts.length; i++) {
      const key = Uint8Array.wrap(String.UTF8.encode(parts[i]));
      let next = this.lookup(node, key.dataStart, key.length);
      if (next < 0) {
        next = this.keys.length;
        this.keys.push(key);
        this.parents.push(node);
        this.fields.push(-1);
        this.hasChildren.push(false);
        this.below.push(0);
        this.hasChildren[node] = true;
      }
      node = next;
    }
    this.fields[node] = fieldId;
    for (let up = this.parents[node]; up > 0; up = this.parents[up]) this.below[up] |= (<u32>1) << <u32>fieldId;
    return this;
  }

  /** The child of `node` named by the bytes at ptr, or -1. */
  lookup(node: i32, ptr: usize, len: i32): i32 {
    const n = this.keys.length;
    for (let i = 1; i < n; i++) {
      if (unchecked(this.parents[i]) != node) continue;
      const key = unchecked(this.keys[i]);
      if (key.length == len && memory.compare(key.dataStart, ptr, len) == 0) return i;
    }
    return -1;
  }
}
