// Rewrites a buffered request body in place of a re-serialisation: the scanner found the byte
// spans of the top-level "model", "stream_options" and "stream_options.include_usage", and only
// those spans change; every other byte of the client's body goes upstream as it came.
import { JsonScanner, Kind } from "./json/scanner";
import { Field } from "./apis/fields";

class Edit {
  constructor(public start: i32, public end: i32, public text: string) {}
}

/** The rewritten body, or null when nothing changes. `model` "" leaves the model alone. */
export function rewriteRequest(body: Uint8Array, scanner: JsonScanner, model: string, forceIncludeUsage: bool): Uint8Array | null {
  const edits: Edit[] = [];
  const rootStart = <i32>scanner.rootOpenEnd;
  const inserts: string[] = []; // members added at the start of the root object

  if (model.length > 0) {
    const current = scanner.string(Field.Model);
    if (scanner.has(Field.Model)) {
      if (current === null || !sameBytes(current, model)) {
        edits.push(new Edit(<i32>scanner.start[Field.Model], <i32>scanner.end[Field.Model], jsonString(model)));
      }
    } else {
      inserts.push("\"model\":" + jsonString(model));
    }
  }

  if (forceIncludeUsage && scanner.isTrue(Field.Stream)) {
    if (scanner.has(Field.IncludeUsage)) {
      if (!scanner.isTrue(Field.IncludeUsage)) {
        edits.push(new Edit(<i32>scanner.start[Field.IncludeUsage], <i32>scanner.end[Field.IncludeUsage], "true"));
      }
    } else if (scanner.has(Field.StreamOptions) && scanner.kind[Field.StreamOptions] == Kind.Object) {
      const open = <i32>scanner.start[Field.StreamOptions] + 1;
      edits.push(new Edit(open, open, "\"include_usage\":true" + (isEmptyObject(body, open) ? "" : ",")));
    } else if (scanner.has(Field.StreamOptions)) {
      edits.push(new Edit(<i32>scanner.start[Field.StreamOptions], <i32>scanner.end[Field.StreamOptions], "{\"include_usage\":true}"));
    } else {
      inserts.push("\"stream_options\":{\"include_usage\":true}");
    }
  }

  if (inserts.length > 0) {
    edits.push(new Edit(rootStart, rootStart, inserts.join(",") + (isEmptyObject(body, rootStart) ? "" : ",")));
  }
  if (edits.length == 0) return null;
  edits.sort((a: Edit, b: Edit): i32 => a.start - b.start);

  const parts: Uint8Array[] = [];
  let size = 0;
  let at = 0;
  for (let i = 0; i < edits.length; i++) {
    const e = edits[i];
    if (e.start < at || e.end > body.length) return null; // overlapping or out of range: leave the body alone
    parts.push(body.subarray(at, e.start));
    const text = Uint8Array.wrap(String.UTF8.encode(e.text));
    parts.push(text);
    size += (e.start - at) + text.length;
    at = e.end;
  }
  parts.push(body.subarray(at));
  size += body.length - at;
  const out = new Uint8Array(size);
  let o = 0;
  for (let i = 0; i < parts.length; i++) {
    out.set(parts[i], o);
    o += parts[i].length;
  }
  return out;
}

/** Whether the object whose members start at `at` has none (next non-blank byte is `}`). */
function isEmptyObject(body: Uint8Array, at: i32): bool {
  for (let i = at; i < body.length; i++) {
    const c = body[i];
    if (c == 0x20 || c == 0x09 || c == 0x0a || c == 0x0d) continue;
    return c == 0x7d;
  }
  return false;
}

function sameBytes(a: Uint8Array, s: string): bool {
  const b = Uint8Array.wrap(String.UTF8.encode(s));
  if (a.length != b.length) return false;
  return memory.compare(a.dataStart, b.dataStart, a.length) == 0;
}

/** A JSON string literal for `s`. */
export function jsonString(s: string): string {
  let out = "\"";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c == 0x22) out += "\\\"";
    else if (c == 0x5c) out += "\\\\";
    else if (c < 0x20) out += "\\u00" + (c < 0x10 ? "0" : "") + c.toString(16);
    else out += String.fromCharCode(c);
  }
  return out + "\"";
}
