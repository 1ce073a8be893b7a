// Reads a response body as it streams past: one JSON document, an SSE or NDJSON stream of them,
// or an AWS event stream of them (eventstream-body.ts).
import { JsonScanner, Kind } from "./json/scanner";
import { Field } from "./apis/fields";
import { SseFramer, SseHandler } from "./sse";
import { NdjsonFramer } from "./ndjson";
import { ApiShape } from "./apis/shape";
import { Usage } from "./usage";
import { judgedByEveryKey, quietByEveryKey, quietEvent } from "./json/prefilter";

/** The fields that mark every chunk of a stream rather than its end (json/prefilter.ts). */
const PER_CHUNK: u32 = ((<u32>1) << <u32>Field.Content) | ((<u32>1) << <u32>Field.FinishReason);
import { EventStreamBody } from "./eventstream-body";

export const enum BodyKind { Json = 0, Sse = 1, EventStream = 2, Ndjson = 3 }

// Parsers (scanner, framer and all) are pooled per VM, like the request scanners.
const POOL_MAX = 64;
const parsers: ResponseParser[] = [];

export class ResponseParser extends SseHandler {
  private scanner: JsonScanner;
  private framer: SseFramer | null = null;
  private events: EventStreamBody | null = null;
  private lines: NdjsonFramer | null = null;
  /** JSON bodies: whether the document was complete and sound. SSE: whether any event parsed. */
  sound: bool = false;
  /** SSE: events that carried data other than `[DONE]`; NDJSON: non-blank lines. */
  dataEvents: i32 = 0;
  /** SSE: an event carried generated content (Field.Content). */
  sawContent: bool = false;
  /** Quiet events are judged by every key, not by the root keys alone (json/prefilter.ts). */
  private byEveryKey: bool;

  constructor(public shape: ApiShape, public kind: BodyKind, private usage: Usage) {
    super();
    this.scanner = new JsonScanner(shape.response);
    this.byEveryKey = judgedByEveryKey(shape.response, PER_CHUNK);
    if (kind == BodyKind.Sse) this.framer = new SseFramer(this.scanner, this);
    else if (kind == BodyKind.EventStream) this.events = new EventStreamBody(shape, this.scanner, usage);
    else if (kind == BodyKind.Ndjson) this.lines = new NdjsonFramer(this.scanner, this);
  }

  /** Ready for another response (see acquireParser). */
  private restart(usage: Usage): void {
    this.usage = usage;
    this.sound = false;
    this.dataEvents = 0;
    this.sawContent = false;
    this.scanner.reset();
    const framer = this.framer;
    if (framer !== null) framer.reset();
    const events = this.events;
    if (events !== null) events.reset(usage);
    const lines = this.lines;
    if (lines !== null) lines.reset();
  }

  static acquire(shape: ApiShape, kind: BodyKind, usage: Usage): ResponseParser {
    for (let i = parsers.length - 1; i >= 0; i--) {
      const p = unchecked(parsers[i]);
      if (p.shape == shape && p.kind == kind) {
        parsers[i] = parsers[parsers.length - 1];
        parsers.pop();
        p.restart(usage);
        return p;
      }
    }
    return new ResponseParser(shape, kind, usage);
  }

  /** Gives the parser back to the VM's pool; the caller must not use it afterwards. */
  release(): void {
    if (parsers.length < POOL_MAX) parsers.push(this);
  }

  feed(ptr: usize, len: i32): void {
    const framer = this.framer;
    const events = this.events;
    const lines = this.lines;
    if (framer !== null) framer.feed(ptr, len);
    else if (events !== null) events.feed(ptr, len);
    else if (lines !== null) lines.feed(ptr, len);
    else this.scanner.feed(ptr, len);
  }

  finish(): void {
    const framer = this.framer;
    if (framer !== null) {
      framer.finish();
      return;
    }
    const events = this.events;
    if (events !== null) {
      events.finish();
      this.sound = events.sound;
      this.sawContent = events.sawContent;
      return;
    }
    const lines = this.lines;
    if (lines !== null) {
      lines.finish();
      return;
    }
    this.scanner.finish();
    // One object; or an array where the shape reads array elements (Gemini's unframed stream).
    this.sound = this.scanner.complete && (this.scanner.rootIsObject || (this.scanner.rootIsArray && this.shape.response.rootElement >= 0));
    // A broken document may still have carried usage before it broke; a truncated or
    // malformed body publishes nothing (numbers from half a document could be wrong).
    if (this.sound) this.usage.mergeResponse(this.scanner);
  }

  /** Whether generated content has begun (time to first token): an SSE event carrying a
   *  Field.Content value; for JSON (Gemini's unframed array), any bytes. */
  get hasContent(): bool {
    const events = this.events;
    if (events !== null) return events.sawContent;
    return this.framer !== null || this.lines !== null ? this.sawContent : this.scanner.rootSeen;
  }

  /** Nothing to read: a JSON body of only blanks, or a stream without a data event. */
  get empty(): bool {
    const events = this.events;
    if (events !== null) return events.empty;
    return this.framer !== null || this.lines !== null ? this.dataEvents == 0 : !this.scanner.rootSeen && !this.scanner.malformed;
  }

  /** Once an event has parsed (so a broken one can no longer change `sound`), an event that
   *  could change nothing is passed over: no field key, or only `null`s and the model already
   *  kept (json/prefilter.ts). */
  quiet(ptr: usize, len: i32): bool {
    // Once generated content was seen, the fields that only mark it no longer matter. For the
    // shapes judged by their root keys the finish reason never makes an event worth reading on
    // its own: each sends it in an event that is read anyway (Anthropic's message_delta, Gemini's
    // last chunk, DashScope's events and the Responses API's response.* events carry usage), so
    // Anthropic's content_block_delta stays quiet although `delta` holds stop_reason.
    const content = this.sawContent || this.usage.firstTokenNs != 0 ? (<u32>1) << <u32>Field.Content : 0;
    if (!this.sound) return false;
    const trie = this.scanner.trie;
    // Judged by every key, a finish reason is seen wherever it is: it is never ignored there.
    if (this.byEveryKey) return quietByEveryKey(trie, ptr, len, Field.Model, this.usage.responseModel, content);
    return quietEvent(trie, ptr, len, Field.Model, this.usage.responseModel, content | ((<u32>1) << <u32>Field.FinishReason));
  }

  onQuietEvent(): void {
    this.dataEvents++;
  }

  onEvent(scanner: JsonScanner, done: bool): void {
    if (done) return; // OpenAI's `data: [DONE]` carries nothing to read
    this.dataEvents++;
    if (scanner.complete && scanner.rootIsObject) {
      this.sound = true;
      this.usage.mergeResponse(scanner);
      if (!this.sawContent && carriesContent(scanner)) this.sawContent = true;
    }
  }
}

/** A Field.Content value that is something: a non-empty string, or an object/array/number. */
function carriesContent(scanner: JsonScanner): bool {
  if (!scanner.has(Field.Content)) return false;
  const kind = scanner.kind[Field.Content];
  if (kind == Kind.String) return scanner.names(Field.Content);
  return kind != Kind.Null && kind != Kind.False && kind != Kind.None;
}
