// What a proxy-wasm call sees as "the current context": the root context of the plugin or an
// HTTP stream. Defaults are the root context's answers in Envoy (source/extensions/common/wasm/
// context.cc): no header maps (getMap → nullptr → BadArgument on mutation), HTTP bodies empty,
// set_property NotFound (no stream info), send_local_response/continue_stream no-ops returning Ok.
import { BufferType, StreamType, WasmResult, type WasmResultCode } from "./constants";
import type { HeaderMap } from "../envoy/headers";
import type { PropertySource } from "../envoy/properties";

/** An Envoy Buffer as the ABI sees it (proxy_wasm::BufferInterface). */
export interface BufferRef {
  size(): number;
  copyOut(start: number, length: number): Uint8Array;
  /** Buffer::copyFrom semantics (see Buf.copyFrom). */
  copyFrom(start: number, length: number, data: Uint8Array): WasmResultCode;
}

/** A growable byte buffer with Envoy Buffer::copyFrom semantics. */
export class Buf implements BufferRef {
  constructor(public bytes: Uint8Array = new Uint8Array(0)) {}
  size(): number {
    return this.bytes.length;
  }
  copyOut(start: number, length: number): Uint8Array {
    return this.bytes.subarray(start, start + length);
  }
  add(data: Uint8Array): void {
    if (data.length === 0) return;
    const out = new Uint8Array(this.bytes.length + data.length);
    out.set(this.bytes);
    out.set(data, this.bytes.length);
    this.bytes = out;
  }
  /** Moves all of `other` into this buffer (Buffer::move). */
  move(other: Buf): void {
    this.add(other.bytes);
    other.bytes = new Uint8Array(0);
  }
  /** Envoy Buffer::copyFrom (source/extensions/common/wasm/context.cc): start 0 & length 0 →
   * prepend; start 0 & length ≥ size → replace all; start ≥ size → append; otherwise
   * BadArgument (no partial replacement). */
  copyFrom(start: number, length: number, data: Uint8Array): WasmResultCode {
    const size = this.bytes.length;
    if (start === 0) {
      if (length === 0) {
        const out = new Uint8Array(size + data.length);
        out.set(data);
        out.set(this.bytes, data.length);
        this.bytes = out;
        return WasmResult.Ok;
      }
      if (length >= size) {
        this.bytes = data.slice();
        return WasmResult.Ok;
      }
      return WasmResult.BadArgument;
    }
    if (start >= size) {
      this.add(data);
      return WasmResult.Ok;
    }
    return WasmResult.BadArgument;
  }
}

/** An immutable buffer (configuration); copyFrom → BadArgument. */
export class ConstBuf implements BufferRef {
  constructor(private readonly bytes: Uint8Array) {}
  size(): number {
    return this.bytes.length;
  }
  copyOut(start: number, length: number): Uint8Array {
    return this.bytes.subarray(start, start + length);
  }
  copyFrom(): WasmResultCode {
    return WasmResult.BadArgument;
  }
}

/** Buffer wrapper around a null Buffer::Instance: size 0, copyFrom BadArgument
 * (proxy_wasm::BufferBase without data). */
export const EMPTY_BUFFER: BufferRef = {
  size: () => 0,
  copyOut: () => new Uint8Array(0),
  copyFrom: () => WasmResult.BadArgument,
};

export interface LocalReplyRequest {
  status: number;
  body: string;
  headers: [string, string][];
  details: string;
  grpcStatus: number;
}

export abstract class HostContext {
  abstract readonly id: number;
  abstract readonly isRoot: boolean;

  /** Mutable map (Context::getMap): null → BadArgument for add/replace/remove/set/size. */
  getMap(_type: number): HeaderMap | null {
    return null;
  }
  /** Readable map (Context::getConstMap). */
  getConstMap(_type: number): HeaderMap | null {
    return null;
  }
  get accessLogPhase(): boolean {
    return false;
  }
  /** null → NotFound. */
  getBuffer(type: number): BufferRef | null {
    if (type === BufferType.HttpRequestBody || type === BufferType.HttpResponseBody) return EMPTY_BUFFER;
    if (type === BufferType.NetworkDownstreamData || type === BufferType.NetworkUpstreamData) return EMPTY_BUFFER;
    if (type === BufferType.GrpcReceiveBuffer || type === BufferType.CallData) return EMPTY_BUFFER;
    return null;
  }
  abstract propertySource(): PropertySource;
  setProperty(_path: string, _value: Uint8Array): WasmResultCode {
    return WasmResult.NotFound;
  }
  sendLocalResponse(_r: LocalReplyRequest): WasmResultCode {
    return WasmResult.Ok;
  }
  continueStream(type: number): WasmResultCode {
    if (type === StreamType.Upstream) return WasmResult.Unimplemented;
    return WasmResult.Ok;
  }
  closeStream(_type: number): WasmResultCode {
    return WasmResult.Ok;
  }
}
