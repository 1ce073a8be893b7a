// A small JSON tree parser for the plugin configuration (read once, in on_configure). Unlike
// json-as, which aborts the VM on malformed input, it reports where the input broke, so
// on_configure can reject the configuration with a log line instead of trapping. Depth-limited.
import { hexDigit } from "./chars";

export enum JType { Null, Bool, Number, String, Array, Object }

// Scalars share these (never pushed to): two arrays per number or string made a 10,000-row
// price table cost ~50 MiB of linear memory per VM (tests/pricing.test.ts reports it).
const NO_ITEMS: JValue[] = [];
const NO_KEYS: string[] = [];

export class JValue {
  type: JType = JType.Null;
  bool: bool = false;
  num: f64 = 0;
  str: string = "";
  /** Array elements, object member values; empty (shared) for scalars. */
  items: JValue[] = NO_ITEMS;
  keys: string[] = NO_KEYS;

  get(key: string): JValue | null {
    for (let i = this.keys.length - 1; i >= 0; i--) if (this.keys[i] == key) return this.items[i];
    return null;
  }
  typeName(): string {
    switch (this.type) {
      case JType.Null: return "null";
      case JType.Bool: return "a boolean";
      case JType.Number: return "a number";
      case JType.String: return "a string";
      case JType.Array: return "an array";
      default: return "an object";
    }
  }
}

const MAX_DEPTH = 32;

export class JsonParser {
  error: string = "";
  private pos: i32 = 0;
  private s: string;

  constructor(text: string) {
    this.s = text;
  }

  /** The document, or null with `error` set. */
  parse(): JValue | null {
    const v = this.value(0);
    if (v === null) return null;
    this.ws();
    if (this.pos < this.s.length) return this.fail("unexpected data after the document");
    return v;
  }

  private fail(msg: string): JValue | null {
    if (this.error.length == 0) this.error = msg + " at offset " + this.pos.toString();
    return null;
  }

  private ws(): void {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c != 0x20 && c != 0x09 && c != 0x0a && c != 0x0d) break;
      this.pos++;
    }
  }

  private value(depth: i32): JValue | null {
    if (depth > MAX_DEPTH) return this.fail("nesting deeper than " + MAX_DEPTH.toString());
    this.ws();
    if (this.pos >= this.s.length) return this.fail("unexpected end");
    const c = this.s.charCodeAt(this.pos);
    if (c == 0x7b) return this.object(depth);
    if (c == 0x5b) return this.array(depth);
    if (c == 0x22) {
      const str = this.string();
      if (str === null) return null;
      const v = new JValue();
      v.type = JType.String;
      v.str = str;
      return v;
    }
    if (this.word("true")) return boolValue(true);
    if (this.word("false")) return boolValue(false);
    if (this.word("null")) return new JValue();
    return this.number();
  }

  private word(w: string): bool {
    // Compared in place: a substring per value was garbage the size of the document.
    const s = this.s;
    if (this.pos + w.length > s.length) return false;
    for (let i = 0; i < w.length; i++) if (s.charCodeAt(this.pos + i) != w.charCodeAt(i)) return false;
    this.pos += w.length;
    return true;
  }

  private number(): JValue | null {
    const s = this.s;
    const start = this.pos;
    if (this.pos < s.length && s.charCodeAt(this.pos) == 0x2d) this.pos++;
    let digits = 0;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if ((c >= 0x30 && c <= 0x39) || c == 0x2e || c == 0x65 || c == 0x45 || c == 0x2b || c == 0x2d) {
        this.pos++;
        digits++;
      } else break;
    }
    if (digits == 0) return this.fail("unexpected character");
    const v = new JValue();
    v.type = JType.Number;
    v.num = jsonNumber(s, start, this.pos);
    if (isNaN(v.num)) return this.fail("bad number");
    return v;
  }

  private string(): string | null {
    const s = this.s;
    this.pos++; // opening quote
    let out = "";
    let from = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c == 0x22) {
        out = out.length == 0 ? s.substring(from, this.pos) : out + s.substring(from, this.pos);
        this.pos++;
        return out;
      }
      if (c < 0x20) {
        this.fail("control character in string");
        return null;
      }
      if (c == 0x5c) {
        out += s.substring(from, this.pos);
        if (this.pos + 1 >= s.length) break;
        const e = s.charCodeAt(this.pos + 1);
        this.pos += 2;
        if (e == 0x6e) out += "\n";
        else if (e == 0x74) out += "\t";
        else if (e == 0x72) out += "\r";
        else if (e == 0x62) out += "\b";
        else if (e == 0x66) out += "\f";
        else if (e == 0x75) {
          if (this.pos + 4 > s.length) break;
          const code = hex4(s, this.pos);
          if (code < 0) {
            this.fail("bad \\u escape");
            return null;
          }
          out += String.fromCharCode(code);
          this.pos += 4;
        } else if (e == 0x22 || e == 0x5c || e == 0x2f) out += String.fromCharCode(e);
        else {
          this.fail("bad escape");
          return null;
        }
        from = this.pos;
        continue;
      }
      this.pos++;
    }
    this.fail("unterminated string");
    return null;
  }

  private array(depth: i32): JValue | null {
    this.pos++;
    const v = new JValue();
    v.type = JType.Array;
    v.items = [];
    this.ws();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x5d) {
      this.pos++;
      return v;
    }
    while (true) {
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.items.push(item);
      this.ws();
      if (this.pos >= this.s.length) return this.fail("unterminated array");
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x5d) return v;
      if (c != 0x2c) return this.fail("expected ',' or ']'");
    }
  }

  private object(depth: i32): JValue | null {
    this.pos++;
    const v = new JValue();
    v.type = JType.Object;
    v.items = [];
    v.keys = [];
    this.ws();
    if (this.pos < this.s.length && this.s.charCodeAt(this.pos) == 0x7d) {
      this.pos++;
      return v;
    }
    while (true) {
      this.ws();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x22) return this.fail("expected a key");
      const key = this.string();
      if (key === null) return null;
      this.ws();
      if (this.pos >= this.s.length || this.s.charCodeAt(this.pos) != 0x3a) return this.fail("expected ':'");
      this.pos++;
      const item = this.value(depth + 1);
      if (item === null) return null;
      v.keys.push(key);
      v.items.push(item);
      this.ws();
      if (this.pos >= this.s.length) return this.fail("unterminated object");
      const c = this.s.charCodeAt(this.pos++);
      if (c == 0x7d) return v;
      if (c != 0x2c) return this.fail("expected ',' or '}'");
    }
  }
}

function boolValue(b: bool): JValue {
  const v = new JValue();
  v.type = JType.Bool;
  v.bool = b;
  return v;
}

/** The JSON number s[start, end) (RFC 8259 grammar), or NaN when it is not one. Not parseFloat:
 *  the configuration only holds integers (Reader.int), which this reads exactly up to 2^53, and
 *  the standard library's strtod and its tables cost 1.6 KB of the module. A fraction or an
 *  exponent is applied by repeated ×/÷ 10 (within an ulp or so; no integer is affected). */
function jsonNumber(s: string, start: i32, end: i32): f64 {
  let i = start;
  let negative = false;
  if (i < end && s.charCodeAt(i) == 0x2d) {
    negative = true;
    i++;
  }
  const intStart = i;
  let v: f64 = 0;
  while (i < end && <u32>(s.charCodeAt(i) - 0x30) < 10) v = v * 10 + <f64>(s.charCodeAt(i++) - 0x30);
  if (i == intStart || (s.charCodeAt(intStart) == 0x30 && i - intStart > 1)) return NaN; // no digits, or a leading zero
  let scale = 0;
  if (i < end && s.charCodeAt(i) == 0x2e) {
    i++;
    const fracStart = i;
    while (i < end && <u32>(s.charCodeAt(i) - 0x30) < 10) {
      v = v * 10 + <f64>(s.charCodeAt(i++) - 0x30);
      scale--;
    }
    if (i == fracStart) return NaN;
  }
  if (i < end && (s.charCodeAt(i) | 0x20) == 0x65) { // e / E
    i++;
    let expNegative = false;
    if (i < end && (s.charCodeAt(i) == 0x2b || s.charCodeAt(i) == 0x2d)) expNegative = s.charCodeAt(i++) == 0x2d;
    const expStart = i;
    let e = 0;
    while (i < end && <u32>(s.charCodeAt(i) - 0x30) < 10) {
      if (e < 100000) e = e * 10 + (s.charCodeAt(i) - 0x30); // beyond this the result is 0 or Infinity anyway
      i++;
    }
    if (i == expStart) return NaN;
    scale += expNegative ? -e : e;
  }
  if (i != end) return NaN;
  // Bounded loops: v is a non-zero integer, so ~310 steps reach Infinity and ~650 reach 0.
  if (v != 0) {
    for (; scale > 0 && v != Infinity; scale--) v *= 10;
    for (; scale < 0 && v != 0; scale++) v /= 10;
  }
  return negative ? -v : v;
}

/** The four hex digits at s[at], or -1. */
function hex4(s: string, at: i32): i32 {
  let v = 0;
  for (let k = 0; k < 4; k++) {
    const d = hexDigit(<u32>s.charCodeAt(at + k));
    if (d < 0) return -1;
    v = (v << 4) | d;
  }
  return v;
}
