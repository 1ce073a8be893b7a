// Envoy filter state as proxy_set_property fills it (source/extensions/common/wasm/context.cc
// Context::setProperty, source/extensions/filters/common/expr/cel_state.h CelState): the key is
// "wasm." + path; a new entry takes the prototype declared for the path (declare_property foreign
// function) or the default one (not read-only, bytes, FilterChain); CelState::setValue fails
// (→ BadArgument) only when the state is read-only and already initialized.
import { WasmResult, type WasmResultCode } from "../abi/constants";

export const CEL_STATE_KEY_PREFIX = "wasm.";

export interface CelStatePrototype {
  readOnly: boolean;
  /** 0 bytes, 1 string, 2 FlatBuffers, 3 Protobuf (declare_property.proto WasmType). */
  type: number;
  schema?: Uint8Array;
  /** 0 FilterChain, 1 DownstreamRequest, 2 DownstreamConnection. */
  lifeSpan: number;
}

export const DEFAULT_CEL_STATE_PROTOTYPE: CelStatePrototype = { readOnly: false, type: 0, lifeSpan: 0 };

export interface FilterStateEntry {
  value: Uint8Array;
  readOnly: boolean;
  type: number;
}

const dec = new TextDecoder();

export class FilterState {
  readonly map = new Map<string, FilterStateEntry>();

  setCelState(path: string, value: Uint8Array, prototype: CelStatePrototype = DEFAULT_CEL_STATE_PROTOTYPE): WasmResultCode {
    const key = CEL_STATE_KEY_PREFIX + path;
    const existing = this.map.get(key);
    if (existing) {
      if (existing.readOnly) return WasmResult.BadArgument;
      existing.value = value.slice();
      return WasmResult.Ok;
    }
    this.map.set(key, { value: value.slice(), readOnly: prototype.readOnly, type: prototype.type });
    return WasmResult.Ok;
  }

  get(key: string): FilterStateEntry | undefined {
    return this.map.get(key);
  }

  getString(key: string): string | undefined {
    const e = this.map.get(key);
    return e ? dec.decode(e.value) : undefined;
  }
}

/** Decodes envoy.source.extensions.common.wasm.DeclarePropertyArguments
 * (source/extensions/common/wasm/ext/declare_property.proto): name=1, readonly=2, type=3,
 * schema=4, span=5. Returns undefined on malformed input (Envoy → BadArgument). */
export function decodeDeclareProperty(buf: Uint8Array): ({ name: string } & CelStatePrototype) | undefined {
  let p = 0;
  const out = { name: "", readOnly: false, type: 0, lifeSpan: 0, schema: undefined as Uint8Array | undefined };
  const varint = (): number | undefined => {
    let r = 0,
      shift = 0;
    while (p < buf.length) {
      const b = buf[p++];
      r += (b & 0x7f) * 2 ** shift;
      if (!(b & 0x80)) return r;
      shift += 7;
    }
    return undefined;
  };
  while (p < buf.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Math.floor(tag / 8),
      wire = tag & 7;
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return undefined;
      if (field === 2) out.readOnly = v !== 0;
      else if (field === 3) out.type = v;
      else if (field === 5) out.lifeSpan = v;
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined || p + len > buf.length) return undefined;
      const bytes = buf.subarray(p, p + len);
      p += len;
      if (field === 1) out.name = dec.decode(bytes);
      else if (field === 4) out.schema = bytes.slice();
    } else return undefined;
  }
  return out;
}
