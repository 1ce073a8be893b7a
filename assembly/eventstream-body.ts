// A response body in the AWS event stream framing (Bedrock's converse-stream and
// invoke-with-response-stream), read for usage: the framing (eventstream.ts) hands each
// message's payload to the shape's JSON scanner, directly (ConverseStream: the payload is the
// event's JSON, the `metadata` event carries `usage`) or through the base64 of its `bytes`
// member (InvokeModelWithResponseStream `chunk` events: base64-json.ts). An event's values are
// merged only after its message CRC matched. `exception` and `error` messages are a provider
// error.
import { EventStreamDecoder, EventStreamHandler, MessageType } from "./eventstream";
import { Base64JsonReader } from "./base64-json";
import { JsonScanner, Kind } from "./json/scanner";
import { ApiShape, EventPayload } from "./apis/shape";
import { Field } from "./apis/fields";
import { Usage } from "./usage";

const SKIP = 0; // a message not read (another event type)
const JSON_PAYLOAD = 1;
const BASE64_PAYLOAD = 2;
const PROBLEM = 3; // an exception or error message

export class EventStreamBody extends EventStreamHandler {
  private decoder!: EventStreamDecoder;
  private bytes: Base64JsonReader | null = null;
  private reading: i32 = SKIP;
  /** Events whose JSON was whole and an object. */
  parsedEvents: i32 = 0;
  /** Exception and error messages. */
  problems: i32 = 0;
  sawContent: bool = false;
  /** The stream ended in the middle of a message. */
  truncated: bool = false;

  constructor(shape: ApiShape, private scanner: JsonScanner, public usage: Usage) {
    super();
    this.decoder = new EventStreamDecoder(this);
    if (shape.eventPayload == EventPayload.Base64Bytes) this.bytes = new Base64JsonReader(scanner);
  }

  reset(usage: Usage): void {
    this.usage = usage;
    this.decoder.reset();
    this.reading = SKIP;
    this.parsedEvents = 0;
    this.problems = 0;
    this.sawContent = false;
    this.truncated = false;
  }

  feed(ptr: usize, len: i32): void {
    this.decoder.feed(ptr, len);
  }

  finish(): void {
    this.truncated = this.decoder.midMessage;
    this.scanner.reset();
  }

  /** Sound: every message's CRC matched, none was cut off, and at least one event parsed or an
   *  exception was reported. */
  get sound(): bool {
    return !this.decoder.failed && !this.truncated && this.parsedEvents + this.problems > 0;
  }

  /** No message at all (and no broken one). */
  get empty(): bool {
    return this.decoder.messages == 0 && !this.decoder.failed && !this.truncated;
  }

  onMessageStart(stream: EventStreamDecoder): void {
    this.scanner.reset();
    if (stream.messageType != MessageType.Event) {
      this.reading = PROBLEM;
    } else if (this.bytes !== null) {
      this.reading = stream.eventTypeIs("chunk") ? BASE64_PAYLOAD : SKIP;
      this.bytes!.reset();
    } else {
      this.reading = JSON_PAYLOAD;
    }
  }

  onPayload(ptr: usize, len: i32): void {
    const reading = this.reading;
    if (reading == JSON_PAYLOAD) this.scanner.feed(ptr, len);
    else if (reading == BASE64_PAYLOAD) this.bytes!.feed(ptr, len);
  }

  onMessageEnd(_stream: EventStreamDecoder, sound: bool): void {
    const reading = this.reading;
    this.reading = SKIP;
    if (!sound) return; // the stream has failed: nothing of this message is believed
    if (reading == PROBLEM) {
      this.usage.providerError = true;
      this.problems++;
      return;
    }
    if (reading == SKIP) return;
    let whole: bool = true;
    if (reading == BASE64_PAYLOAD) {
      const bytes = this.bytes!;
      bytes.finish();
      whole = bytes.complete;
    }
    const scanner = this.scanner;
    scanner.finish();
    if (whole && scanner.complete && scanner.rootIsObject) {
      this.parsedEvents++;
      this.usage.mergeResponse(scanner);
      if (!this.sawContent && carriesContent(scanner)) this.sawContent = true;
    }
    scanner.reset();
  }
}

/** A Field.Content value that is something (as response.ts judges SSE events). */
function carriesContent(scanner: JsonScanner): bool {
  if (!scanner.has(Field.Content)) return false;
  const kind = scanner.kind[Field.Content];
  if (kind == Kind.String) return scanner.names(Field.Content);
  return kind != Kind.Null && kind != Kind.False && kind != Kind.None;
}
