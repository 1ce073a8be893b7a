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
  /** Whether an event whose whole data is the one line [ptr, ptr + len) (not `[DONE]`) may be
   *  passed over unread, because reading it could change nothing (json/prefilter.ts). */
  quiet(_ptr: usize, _len: i32): bool {
    return false;
  }
  /** An event passed over because quiet() said so. */
  onQuietEvent(): void {}
}

export class SseFramer {
  private state: i32 = LINE_START;
  private afterCR: bool = false;
  private field: u32 = 0; // the field name's first 4 bytes, packed; "data" is the one that matters
  private fieldLen: i32 = 0;
  private dataLines: i32 = 0;
  private dataBytes: i32 = 0;
  private doneMatched: i32 = 0;
  /** Within the current feed(): no quiet-event attempt before this address (one already looked
   *  at the event there and gave up), so an event is looked ahead over once, not once per line. */
  private quietFrom: usize = 0;
  /** Events to let pass before the next quiet-event attempt, and the current back-off: a stream
   *  whose events are never quiet (DashScope's carry usage in every event) stops paying for the
   *  look-ahead; one success resets it. Skipping an attempt is always safe. */
  private quietSkip: i32 = 0;
  private quietBackoff: i32 = 0;
  /** Set by passQuietEvent when a whole event was looked at and found not quiet. */
  private quietRefused: bool = false;

  constructor(private scanner: JsonScanner, private handler: SseHandler) {}

  reset(): void {
    this.state = LINE_START;
    this.afterCR = false;
    this.field = 0;
    this.fieldLen = 0;
    this.dataLines = 0;
    this.dataBytes = 0;
    this.doneMatched = 0;
    this.quietSkip = 0;
    this.quietBackoff = 0;
  }

  feed(ptr: usize, len: i32): void {
    let p = ptr;
    const end = ptr + <usize>len;
    this.quietFrom = ptr;
    while (p < end) {
      if (this.afterCR) {
        this.afterCR = false;
        if (load<u8>(p) == 0x0a) { p++; continue; } // the LF of a CRLF
      }
      const state = this.state;
      if (state == LINE_START && this.dataLines == 0 && p >= this.quietFrom && this.quietSkip == 0) {
        const next = this.passQuietEvent(p, end);
        if (next > p) {
          this.quietBackoff = 0;
          p = next;
          continue;
        }
        if (this.quietRefused) { // the event was whole but not quiet (not merely cut by the chunk)
          const b = this.quietBackoff;
          this.quietBackoff = b == 0 ? 1 : b < 64 ? b << 1 : 64;
          this.quietSkip = this.quietBackoff;
        }
      }
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

  /** At the start of an event's lines, with nothing of the event read yet: when the whole event
   *  (through its blank line) is in this chunk, has one data line and the handler finds it
   *  quiet, it is passed over without the scanner and the address after it is returned. Else
   *  `p`, and the ordinary path below reads the event byte by byte as before (an event split
   *  across chunks always takes that path: nothing is buffered). Lines are read as feed()
   *  reads them: LF, CRLF or CR ends a line; a line other than `data:...` that does not start
   *  with `d` is a comment or an ignored field; anything else gives up. */
  private passQuietEvent(p: usize, end: usize): usize {
    let q = p;
    let data: usize = 0;
    let dataEnd: usize = 0;
    let lines = 0;
    this.quietRefused = false;
    for (;;) {
      if (q >= end) break; // the event goes on in a later chunk
      const c = load<u8>(q);
      if (c == 0x0a || c == 0x0d) { // the blank line that dispatches the event
        q++;
        if (lines == 0 || load<u8>(data) == 0x5b /* [DONE]? */ || !this.handler.quiet(data, <i32>(dataEnd - data))) {
          this.quietRefused = lines > 0;
          break;
        }
        if (c == 0x0d) {
          if (q == end) this.afterCR = true;
          else if (load<u8>(q) == 0x0a) q++;
        }
        this.handler.onQuietEvent();
        return q;
      }
      const eol = findLineEnd(q, end);
      if (eol == end) break;
      if (c == 0x64) { // 'd': only "data:" is taken
        if (eol - q < 5 || load<u32>(q) != 0x61746164 || load<u8>(q + 4) != 0x3a || lines > 0) break;
        lines = 1;
        data = q + 5;
        if (data < eol && load<u8>(data) == 0x20) data++;
        dataEnd = eol;
        if (data == dataEnd) break; // an empty data line: not worth a special case
      }
      q = eol + 1;
      if (load<u8>(eol) == 0x0d) {
        if (q == end) break;
        if (load<u8>(q) == 0x0a) q++;
      }
    }
    this.quietFrom = q >= end ? end : q;
    return p;
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
    if (this.quietSkip > 0) this.quietSkip--;
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
