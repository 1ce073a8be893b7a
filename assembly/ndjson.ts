// Newline-delimited JSON framing across body chunks (Ollama's native streams,
// `application/x-ndjson`): one JSON document per line, lines end with LF (a CR before it is
// JSON whitespace). Nothing is buffered: each line's bytes go straight into the JSON scanner,
// so a line of any length costs the scanner's few bytes of state, as in sse.ts. A line of only
// blanks is no document. The last line may lack its LF: JSON delimits itself, so a document
// that is complete when the body ends is read; a cut-off one is dropped.
import { JsonScanner } from "./json/scanner";
import { SseHandler } from "./sse";

const LF: u8 = 0x0a;

export class NdjsonFramer {
  constructor(private scanner: JsonScanner, private handler: SseHandler) {}

  reset(): void {
    this.scanner.reset();
  }

  feed(ptr: usize, len: i32): void {
    let p = ptr;
    const end = ptr + <usize>len;
    while (p < end) {
      let eol = p;
      while (eol < end && load<u8>(eol) != LF) eol++;
      if (eol > p) this.scanner.feed(p, <i32>(eol - p));
      if (eol == end) return;
      this.dispatch();
      p = eol + 1;
    }
  }

  /** The body ended: a last line without its LF counts when it is a whole object (what an
   *  NDJSON stream carries); anything else there (a cut-off line, a stray word) is dropped. */
  finish(): void {
    const s = this.scanner;
    s.finish();
    if (s.complete && s.rootIsObject) this.handler.onEvent(s, false);
    s.reset();
  }

  private dispatch(): void {
    const s = this.scanner;
    if (s.rootSeen || s.malformed) {
      s.finish();
      this.handler.onEvent(s, false);
    }
    s.reset();
  }
}
