// The AWS event stream framing (application/vnd.amazon.eventstream: Bedrock's converse-stream
// and invoke-with-response-stream answers), read across any chunking. A message is
//   prelude:  total length u32 BE | headers length u32 BE | CRC32 of those 8 bytes
//   headers:  (name length u8, name, type u8, value) repeated
//   payload:  total - headers - 16 bytes
//   CRC32 of everything before it (prelude included), u32 BE.
// Only the prelude and the headers are held (bounded below); the payload streams to the
// handler as it arrives, and the handler hears that the message was sound (onMessageEnd) only
// after its CRC matched, so a corrupted message is never believed. After any framing error
// (bad CRC, impossible lengths, an unknown header type) nothing further is read: there is no
// way to find the next message boundary.

import { crc32Update } from "./crc32";

/** AWS's own limit for a whole message (smithy / aws-c-event-stream: 16 MiB). The payload is
 *  never held, so this bounds nothing in memory; it rejects a length that cannot be real. */
export const MAX_MESSAGE_BYTES: u32 = 16 * 1024 * 1024;
/** Headers are held whole to be read. AWS allows 128 KiB; Bedrock sends three or four short
 *  headers (under 120 bytes), so a message whose headers pass 8 KiB is taken as malformed
 *  rather than held. */
export const MAX_HEADER_BYTES: u32 = 8 * 1024;

const PRELUDE = 0;
const HEADERS = 1;
const PAYLOAD = 2;
const MESSAGE_CRC = 3;
const FAILED = 4;

/** `:message-type`: "event" (or absent), "exception" (a modelled error), "error". */
export const enum MessageType { Event = 0, Exception = 1, Error = 2 }

export abstract class EventStreamHandler {
  /** A message's headers were read (the prelude CRC matched); its payload follows. */
  abstract onMessageStart(stream: EventStreamDecoder): void;
  /** Payload bytes of the current message, not yet checked by its CRC. */
  abstract onPayload(ptr: usize, len: i32): void;
  /** The current message ended; `sound`: its CRC matched (else the stream has failed). */
  abstract onMessageEnd(stream: EventStreamDecoder, sound: bool): void;
}

export class EventStreamDecoder {
  private state: i32 = PRELUDE;
  /** Prelude, then headers, then the message CRC, gathered across chunks. */
  private held: StaticArray<u8> = new StaticArray<u8>(16);
  private heldLen: i32 = 0;
  private need: i32 = 12;
  private crc: u32 = 0;
  private payloadLeft: u32 = 0;
  /** Header values of the current message, as offsets into `held` (-1: absent). */
  private eventTypeAt: i32 = -1;
  private eventTypeLen: i32 = 0;
  messageType: MessageType = MessageType.Event;
  /** Messages whose CRC matched. */
  messages: i32 = 0;
  /** A framing error: bad CRC, impossible lengths, oversized headers, an unknown header type. */
  failed: bool = false;
  /** Whether bytes of a message are pending (finish() then means the stream was cut). */
  get midMessage(): bool {
    return this.state != FAILED && (this.state != PRELUDE || this.heldLen > 0);
  }

  constructor(private handler: EventStreamHandler) {}

  reset(): void {
    this.state = PRELUDE;
    this.heldLen = 0;
    this.need = 12;
    this.crc = 0;
    this.payloadLeft = 0;
    this.eventTypeAt = -1;
    this.eventTypeLen = 0;
    this.messageType = MessageType.Event;
    this.messages = 0;
    this.failed = false;
    // A buffer grown for large headers is not kept in the pool.
    if (this.held.length > 256) this.held = new StaticArray<u8>(16);
  }

  /** Whether the current message's `:event-type` is `name` (ASCII). Only during
   *  onMessageStart: the header bytes are not kept past it. */
  eventTypeIs(name: string): bool {
    const at = this.eventTypeAt;
    if (at < 0 || this.eventTypeLen != name.length) return false;
    for (let i = 0; i < name.length; i++) {
      if (<u32>unchecked(this.held[at + i]) != <u32>name.charCodeAt(i)) return false;
    }
    return true;
  }

  feed(ptr: usize, len: i32): void {
    let p = ptr;
    const end = ptr + <usize>len;
    while (p < end) {
      const state = this.state;
      if (state == FAILED) return;
      if (state == PAYLOAD) {
        const n = <i32>min(<usize>this.payloadLeft, end - p);
        this.crc = crc32Update(this.crc, p, n);
        this.handler.onPayload(p, n);
        this.payloadLeft -= <u32>n;
        p += <usize>n;
        if (this.payloadLeft == 0) this.startHolding(MESSAGE_CRC, 4);
        continue;
      }
      // Gather `need` bytes into `held`.
      const n = <i32>min(<usize>(this.need - this.heldLen), end - p);
      memory.copy(changetype<usize>(this.held) + <usize>this.heldLen, p, <usize>n);
      this.heldLen += n;
      p += <usize>n;
      if (this.heldLen == this.need) this.gathered();
    }
  }

  /** The stream ended. A message cut short is left unfinished (midMessage tells). */
  finish(): void {}

  private startHolding(state: i32, need: i32): void {
    this.state = state;
    this.heldLen = 0;
    this.need = need;
    if (this.held.length < need) this.held = new StaticArray<u8>(need);
  }

  private fail(): void {
    this.failed = true;
    this.state = FAILED;
  }

  private gathered(): void {
    const held = changetype<usize>(this.held);
    const state = this.state;
    if (state == PRELUDE) {
      const total = bswap<u32>(load<u32>(held));
      const headers = bswap<u32>(load<u32>(held, 4));
      if (crc32Update(0, held, 8) != bswap<u32>(load<u32>(held, 8))) return this.fail();
      if (total < 16 || total > MAX_MESSAGE_BYTES || headers > total - 16 || headers > MAX_HEADER_BYTES) return this.fail();
      this.crc = crc32Update(0, held, 12);
      this.payloadLeft = total - 16 - headers;
      this.startHolding(HEADERS, <i32>headers);
      if (headers == 0) this.gathered();
    } else if (state == HEADERS) {
      this.crc = crc32Update(this.crc, held, this.heldLen);
      if (!this.readHeaders()) return this.fail();
      this.handler.onMessageStart(this);
      this.state = PAYLOAD;
      if (this.payloadLeft == 0) this.startHolding(MESSAGE_CRC, 4);
    } else { // MESSAGE_CRC
      const sound = this.crc == bswap<u32>(load<u32>(held));
      if (sound) this.messages++;
      else this.fail();
      this.handler.onMessageEnd(this, sound);
      if (sound) this.startHolding(PRELUDE, 12);
    }
  }

  /** Walks the held headers, keeping `:event-type` and `:message-type`; false when they
   *  overrun their length or use an unknown value type. */
  private readHeaders(): bool {
    const h = changetype<usize>(this.held);
    const n = this.heldLen;
    this.eventTypeAt = -1;
    this.eventTypeLen = 0;
    this.messageType = MessageType.Event;
    let i = 0;
    while (i < n) {
      const nameLen = <i32>load<u8>(h + <usize>i);
      const nameAt = i + 1;
      i = nameAt + nameLen;
      if (nameLen == 0 || i >= n) return false;
      const type = load<u8>(h + <usize>i);
      i++;
      let valueAt = i;
      let valueLen = 0;
      switch (type) {
        case 0: case 1: break; // true, false
        case 2: valueLen = 1; break; // byte
        case 3: valueLen = 2; break; // short
        case 4: valueLen = 4; break; // int
        case 5: case 8: valueLen = 8; break; // long, timestamp
        case 9: valueLen = 16; break; // uuid
        case 6: case 7: { // byte array, string: u16 BE length
          if (i + 2 > n) return false;
          valueLen = (<i32>load<u8>(h + <usize>i) << 8) | <i32>load<u8>(h + <usize>i + 1);
          valueAt = i + 2;
          break;
        }
        default: return false;
      }
      i = valueAt + valueLen;
      if (i > n) return false;
      if (type == 7) {
        if (nameIs(h, nameAt, nameLen, ":event-type")) {
          this.eventTypeAt = valueAt;
          this.eventTypeLen = valueLen;
        } else if (nameIs(h, nameAt, nameLen, ":message-type")) {
          if (nameIs(h, valueAt, valueLen, "exception")) this.messageType = MessageType.Exception;
          else if (nameIs(h, valueAt, valueLen, "error")) this.messageType = MessageType.Error;
        }
      }
    }
    return true;
  }
}

function nameIs(base: usize, at: i32, len: i32, name: string): bool {
  if (len != name.length) return false;
  for (let i = 0; i < len; i++) if (<u32>load<u8>(base + <usize>(at + i)) != <u32>name.charCodeAt(i)) return false;
  return true;
}
