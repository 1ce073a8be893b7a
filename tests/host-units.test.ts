import { describe, expect, it } from "vitest";
import { decodePairs, encodePairs, HeaderMap, Buf, WasmResult } from "../host";

describe("pairs codec (pairs_util.cc)", () => {
  it("encodes count, sizes, then NUL-terminated keys and values", () => {
    const b = encodePairs([["a", "bc"]]);
    expect([...b]).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 97, 0, 98, 99, 0]);
    expect(decodePairs(b)).toEqual([["a", "bc"]]);
  });
  it("round-trips and decodes a short buffer as no pairs", () => {
    const p: [string, string][] = [
      [":path", "/"],
      ["x", ""],
      ["ü", "ß"],
    ];
    expect(decodePairs(encodePairs(p))).toEqual(p);
    expect(decodePairs(new Uint8Array([1, 0]))).toEqual([]);
    expect(decodePairs(Uint8Array.from([5, 0, 0, 0]))).toEqual([]);
  });
});

describe("header map (header_map_impl.cc)", () => {
  it("pseudo-headers stay first; add merges inline headers with ','; other headers repeat", () => {
    const h = new HeaderMap([["x-a", "1"]]);
    h.add(":path", "/");
    h.add("content-type", "a");
    h.add("content-type", "b");
    h.add("x-a", "2");
    expect(h.toArray()).toEqual([
      [":path", "/"],
      ["x-a", "1"],
      ["content-type", "a,b"],
      ["x-a", "2"],
    ]);
  });
  it("set removes every entry then appends; byteSize sums keys and values", () => {
    const h = new HeaderMap([
      ["x-a", "1"],
      ["y", "2"],
      ["x-a", "3"],
    ]);
    h.set("X-A", "9");
    expect(h.toArray()).toEqual([
      ["y", "2"],
      ["x-a", "9"],
    ]);
    expect(h.byteSize).toBe(1 + 1 + 3 + 1);
  });
});

describe("Buffer::copyFrom", () => {
  it("prepend, replace, append, and BadArgument for partial ranges", () => {
    const b = new Buf(Uint8Array.from([1, 2, 3]));
    expect(b.copyFrom(0, 0, Uint8Array.of(0))).toBe(WasmResult.Ok);
    expect([...b.bytes]).toEqual([0, 1, 2, 3]);
    expect(b.copyFrom(4, 0, Uint8Array.of(4))).toBe(WasmResult.Ok);
    expect([...b.bytes]).toEqual([0, 1, 2, 3, 4]);
    expect(b.copyFrom(1, 1, Uint8Array.of(9))).toBe(WasmResult.BadArgument);
    expect(b.copyFrom(0, 2, Uint8Array.of(9))).toBe(WasmResult.BadArgument);
    expect(b.copyFrom(0, 5, Uint8Array.of(7))).toBe(WasmResult.Ok);
    expect([...b.bytes]).toEqual([7]);
  });
});
