// The payload of a Bedrock InvokeModelWithResponseStream `chunk` event: a JSON object whose
// `bytes` member is base64 (RFC 4648, standard alphabet) of the model's own JSON document,
// e.g. {"bytes":"eyJ0eXBlIjoi...","p":"abcd"}. Read as it streams: the outer object is walked
// byte by byte (other members skipped), the `bytes` string is decoded four characters at a
// time and the decoded bytes go straight on to the model's JSON scanner. Nothing is held but a
// small output block, so a chunk of any size costs the same memory.
import { JsonScanner } from "./json/scanner";

const OPEN = 0; // before '{'
const KEY_OR_END = 1;
const KEY = 2;
const KEY_ESCAPE = 3;
const COLON = 4;
const VALUE = 5;
const BASE64 = 6;
const BASE64_ESCAPE = 7;
const STRING = 8;
const STRING_ESCAPE = 9;
const OTHER = 10; // a number, literal, object or array value: skipped
const AFTER_VALUE = 11;
const DONE = 12;
const FAILED = 13;

const OUT_BYTES = 192;
const BYTES_KEY = "bytes";

/** Base64 digit values; 64 = padding '=', 255 = not base64. */
const DIGITS = new StaticArray<u8>(256);
for (let i = 0; i < 256; i++) unchecked((DIGITS[i] = 255));
for (let i = 0; i < 26; i++) {
  unchecked((DIGITS[0x41 + i] = <u8>i));
  unchecked((DIGITS[0x61 + i] = <u8>(26 + i)));
}
for (let i = 0; i < 10; i++) unchecked((DIGITS[0x30 + i] = <u8>(52 + i)));
unchecked((DIGITS[0x2b] = 62));
unchecked((DIGITS[0x2f] = 63));
unchecked((DIGITS[0x3d] = 64));

export class Base64JsonReader {
  private state: i32 = OPEN;
  /** KEY: bytes of the key matched against "bytes" so far; -1 once it differs. */
  private keyMatch: i32 = 0;
  private keyIsBytes: bool = false;
  /** OTHER: nesting depth and whether inside a string (and after a backslash there). */
  private depth: i32 = 0;
  private inString: bool = false;
  private escaped: bool = false;
  private bits: u32 = 0;
  private digits: i32 = 0;
  private padding: i32 = 0;
  /** A quad ended in '=': no digit may follow. */
  private sawPadding: bool = false;
  private out: StaticArray<u8> = new StaticArray<u8>(OUT_BYTES);
  private outLen: i32 = 0;
  /** The `bytes` member was read to its closing quote. */
  private sawBytes: bool = false;

  constructor(private scanner: JsonScanner) {}

  reset(): void {
    this.state = OPEN;
    this.keyMatch = 0;
    this.keyIsBytes = false;
    this.depth = 0;
    this.inString = false;
    this.escaped = false;
    this.bits = 0;
    this.digits = 0;
    this.padding = 0;
    this.sawPadding = false;
    this.outLen = 0;
    this.sawBytes = false;
  }

  /** The object closed, its `bytes` member was sound base64, and nothing followed. */
  get complete(): bool {
    return this.state == DONE && this.sawBytes;
  }

  feed(ptr: usize, len: i32): void {
    for (let i = 0; i < len; i++) {
      if (this.state == BASE64 && this.padding == 0 && !this.sawPadding) i = this.base64Run(ptr, i, len);
      if (i >= len) break;
      const c = <u32>load<u8>(ptr + <usize>i);
      switch (this.state) {
        case BASE64: this.base64(c); break;
        case OPEN: if (c == 0x7b) this.state = KEY_OR_END; else if (!blank(c)) this.state = FAILED; break;
        case KEY_OR_END:
          if (c == 0x22) {
            this.state = KEY;
            this.keyMatch = 0;
          } else if (c == 0x7d) this.state = DONE;
          else if (!blank(c)) this.state = FAILED;
          break;
        case KEY:
          if (c == 0x22) {
            this.keyIsBytes = this.keyMatch == BYTES_KEY.length;
            this.state = COLON;
          } else if (c == 0x5c) {
            this.keyMatch = -1;
            this.state = KEY_ESCAPE;
          } else if (this.keyMatch >= 0 && this.keyMatch < BYTES_KEY.length && c == <u32>BYTES_KEY.charCodeAt(this.keyMatch)) this.keyMatch++;
          else this.keyMatch = -1;
          break;
        case KEY_ESCAPE: this.state = KEY; break;
        case COLON: if (c == 0x3a) this.state = VALUE; else if (!blank(c)) this.state = FAILED; break;
        case VALUE:
          if (blank(c)) break;
          if (c == 0x22) {
            // A second `bytes` member would be a second document: refused.
            this.state = this.keyIsBytes ? (this.sawBytes ? FAILED : BASE64) : STRING;
          } else if (c == 0x2c || c == 0x7d) this.state = FAILED;
          else {
            this.state = OTHER;
            this.depth = 0;
            this.inString = false;
            this.other(c);
          }
          break;
        case BASE64_ESCAPE:
          // JSON may escape '/' as "\/"; no other escape can stand for a base64 character.
          if (c == 0x2f) {
            this.state = BASE64;
            this.base64(c);
          } else this.state = FAILED;
          break;
        case STRING: if (c == 0x22) this.state = AFTER_VALUE; else if (c == 0x5c) this.state = STRING_ESCAPE; break;
        case STRING_ESCAPE: this.state = STRING; break;
        case OTHER: this.other(c); break;
        case AFTER_VALUE: this.afterValue(c); break;
        case DONE: if (!blank(c)) this.state = FAILED; break;
        default: return; // FAILED
      }
    }
  }

  /** The payload ended: decoded bytes still held go to the scanner. */
  finish(): void {
    this.flush();
  }

  private afterValue(c: u32): void {
    if (c == 0x2c) this.state = KEY_OR_END;
    else if (c == 0x7d) this.state = DONE;
    else if (!blank(c)) this.state = FAILED;
  }

  /** One byte of a skipped non-string value. */
  private other(c: u32): void {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c == 0x5c) this.escaped = true;
      else if (c == 0x22) this.inString = false;
      return;
    }
    if (c == 0x22) this.inString = true;
    else if (c == 0x7b || c == 0x5b) {
      if (++this.depth > 64) this.state = FAILED;
    } else if (c == 0x7d || c == 0x5d) {
      if (this.depth == 0) {
        this.state = AFTER_VALUE;
        this.afterValue(c);
      } else this.depth--;
    } else if (c == 0x2c && this.depth == 0) {
      this.state = KEY_OR_END;
    }
  }

  /** The hot path: whole runs of base64 digits decoded with the state in locals. Returns the
   *  index of the first byte that is not a digit (a quote, '=', '\\' or an error: base64()
   *  takes it), or `len`. */
  private base64Run(ptr: usize, from: i32, len: i32): i32 {
    let bits = this.bits;
    let digits = this.digits;
    let outLen = this.outLen;
    const out = changetype<usize>(this.out);
    let i = from;
    for (; i < len; i++) {
      const v = <u32>unchecked(DIGITS[load<u8>(ptr + <usize>i)]);
      if (v >= 64) break;
      bits = (bits << 6) | v;
      if (++digits == 4) {
        if (outLen + 3 > OUT_BYTES) {
          this.outLen = outLen;
          this.flush();
          outLen = 0;
        }
        store<u8>(out + <usize>outLen, <u8>(bits >>> 16));
        store<u8>(out + <usize>outLen + 1, <u8>(bits >>> 8));
        store<u8>(out + <usize>outLen + 2, <u8>bits);
        outLen += 3;
        digits = 0;
        bits = 0;
      }
    }
    this.bits = bits;
    this.digits = digits;
    this.outLen = outLen;
    return i;
  }

  private base64(c: u32): void {
    if (c == 0x22) { // closing quote: 0 or a whole quad, or an unpadded 2 or 3 digits
      const d = this.digits;
      if (d == 1) { this.state = FAILED; return; }
      if (d == 2) this.emit(<u8>(this.bits >>> 4));
      else if (d == 3) {
        this.emit(<u8>(this.bits >>> 10));
        this.emit(<u8>(this.bits >>> 2));
      }
      this.digits = 0;
      this.sawBytes = true;
      this.state = AFTER_VALUE;
      return;
    }
    if (c == 0x5c) { this.state = BASE64_ESCAPE; return; }
    const v = <u32>unchecked(DIGITS[c]);
    if (v == 255) { this.state = FAILED; return; }
    if (v == 64) { // '=': ends a quad of two or three digits
      if (this.digits < 2) { this.state = FAILED; return; } // "x=" or a '=' after a whole quad
      this.padding++;
      if (this.digits + this.padding == 4) {
        if (this.digits == 2) this.emit(<u8>(this.bits >>> 4));
        else {
          this.emit(<u8>(this.bits >>> 10));
          this.emit(<u8>(this.bits >>> 2));
        }
        this.digits = 0;
        this.padding = 0;
        this.bits = 0;
        this.sawPadding = true;
      }
      return;
    }
    if (this.padding > 0 || this.sawPadding) { this.state = FAILED; return; } // data after '='
    this.bits = (this.bits << 6) | v;
    if (++this.digits == 4) {
      const b = this.bits;
      this.emit(<u8>(b >>> 16));
      this.emit(<u8>(b >>> 8));
      this.emit(<u8>b);
      this.digits = 0;
      this.bits = 0;
    }
  }

  private emit(b: u8): void {
    unchecked((this.out[this.outLen++] = b));
    if (this.outLen == OUT_BYTES) this.flush();
  }

  private flush(): void {
    if (this.outLen > 0) this.scanner.feed(changetype<usize>(this.out), this.outLen);
    this.outLen = 0;
  }
}

// @ts-ignore: decorator
@inline
function blank(c: u32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}
