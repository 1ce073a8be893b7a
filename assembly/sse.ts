// Server-sent events framing across body chunks (WHATWG HTML, "event stream interpretation").
// Events may be split at any byte. Nothing is buffered: the value of each `data:` line is fed
// straight into a JSON scanner, so an event of any size costs a few bytes of state; a blank line
// dispatches the event. Lines end with LF, CRLF or CR; `data:` takes one optional space; lines
// starting with `:` are comments; an event cut off by the end of the stream is discarded.
import { JsonScanner } from "./json/scanner";
import { findLineEnd } from "./json/simd";

const LINE_START = 0;
const FIELD = 1;
const AFTER_COLON = 2;
const DATA = 3;
const SKIP = 4;

const NEWLINE: usize = memory.data<u8>([0x0a]);
const DONE_MARK = "[DONE]";

export abstract class SseHandler {
  /** One complete event whose data went through `scanner`; `done` for OpenAI's `[DONE]`. */
  abstract onEvent(scanner: JsonScanner, done: bool): void;
}

export class SseFramer {
  private state: i32 = LINE_START;
  private afterCR: bool = false;
  private field: u32 = 0; // the field name's first 4 bytes, packed; "data" is the one that matters
  private fieldLen: i32 = 0;
  private dataLines: i32 = 0;
  private dataBytes: i32 = 0;
  private doneMatched: i32 = 0;

  constructor(private scanner: JsonScanner, private handler: SseHandler) {}

  reset(): void {
    this.state = LINE_START;
    this.afterCR = false;
    this.field = 0;
    this.fieldLen = 0;
    this.dataLines = 0;
    this.dataBytes = 0;
    this.doneMatched = 0;
  }

  feed(ptr: usize, len: i32): void {
    let p = ptr;
    const end = ptr + <usize>len;
    while (p < end) {
      if (this.afterCR) {
        this.afterCR = false;
        if (load<u8>(p) == 0x0a) { p++; continue; } // the LF of a CRLF
      }
      const state = this.state;
      if (state == DATA || state == SKIP) {
        const eol = findLineEnd(p, end);
        if (state == DATA && eol > p) this.data(p, <i32>(eol - p));
        if (eol == end) return;
        this.endOfLine(eol);
        p = eol + 1;
        continue;
      }
      const c = load<u8>(p);
      if (c == 0x0a || c == 0x0d) {
        if (state == LINE_START) this.dispatch();
        else if (state == FIELD && this.isData()) this.startDataLine(); // "data" alone: empty value
        this.endOfLine(p);
        p++;
        continue;
      }
      if (state == LINE_START || state == FIELD) {
        if (state == LINE_START) {
          this.state = FIELD;
          this.field = 0;
          this.fieldLen = 0;
        }
        if (c == 0x3a) { // ':'
          if (this.isData()) {
            this.startDataLine();
            this.state = AFTER_COLON;
          } else {
            this.state = SKIP;
          }
        } else {
          if (this.fieldLen < 4) this.field |= <u32>c << (this.fieldLen << 3);
          this.fieldLen++;
        }
        p++;
        continue;
      }
      // AFTER_COLON: one optional space
      this.state = DATA;
      if (c == 0x20) p++;
    }
  }

  /** The stream ended; a partial event is dropped, as the spec says. */
  finish(): void {
    this.scanner.reset();
    this.dataLines = 0;
  }

  private isData(): bool {
    return this.fieldLen == 4 && this.field == 0x61746164; // "data" little-endian
  }

  private startDataLine(): void {
    if (this.dataLines > 0) this.data(NEWLINE, 1); // lines of one event join with LF
    this.dataLines++;
  }

  private data(ptr: usize, len: i32): void {
    // Track whether the event's data begins with "[DONE]" without keeping the bytes.
    let i = 0;
    while (this.doneMatched >= 0 && this.dataBytes + i < 6 && i < len) {
      if (<u32>load<u8>(ptr + <usize>i) == <u32>DONE_MARK.charCodeAt(this.dataBytes + i)) this.doneMatched++;
      else this.doneMatched = -1;
      i++;
    }
    this.dataBytes += len;
    this.scanner.feed(ptr, len);
  }

  private endOfLine(at: usize): void {
    if (load<u8>(at) == 0x0d) this.afterCR = true;
    this.state = LINE_START;
  }

  private dispatch(): void {
    if (this.dataLines > 0) {
      this.scanner.finish();
      this.handler.onEvent(this.scanner, this.doneMatched == 6);
    }
    this.scanner.reset();
    this.dataLines = 0;
    this.dataBytes = 0;
    this.doneMatched = 0;
  }
}
