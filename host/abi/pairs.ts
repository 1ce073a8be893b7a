// The proxy-wasm pairs format (proxy-wasm-cpp-host src/pairs_util.cc, src/exports.cc toPairs):
// u32 count, count x (u32 keyLen, u32 valueLen), then each "key\0value\0". Little endian.

const enc = new TextEncoder();
const dec = new TextDecoder();

export type Pair = [string, string];

export function pairsSize(pairs: readonly (readonly [Uint8Array, Uint8Array])[]): number {
  let size = 4;
  for (const [k, v] of pairs) size += 8 + k.length + 1 + v.length + 1;
  return size;
}

/** Serializes pairs into `out` (which must be pairsSize() long) at `offset`. */
export function marshalPairs(pairs: readonly (readonly [Uint8Array, Uint8Array])[], out: Uint8Array, offset = 0): void {
  const dv = new DataView(out.buffer, out.byteOffset + offset);
  dv.setUint32(0, pairs.length, true);
  let p = 4;
  for (const [k, v] of pairs) {
    dv.setUint32(p, k.length, true);
    dv.setUint32(p + 4, v.length, true);
    p += 8;
  }
  let q = offset + p;
  for (const [k, v] of pairs) {
    out.set(k, q);
    q += k.length;
    out[q++] = 0;
    out.set(v, q);
    q += v.length;
    out[q++] = 0;
  }
}

export function encodePairs(pairs: readonly Pair[]): Uint8Array {
  const bytes = pairs.map(([k, v]) => [enc.encode(k), enc.encode(v)] as const);
  const out = new Uint8Array(pairsSize(bytes));
  marshalPairs(bytes, out);
  return out;
}

/** Decodes like cpp-host toPairs: a buffer too short for its header decodes as no pairs. */
export function decodePairs(buf: Uint8Array): Pair[] {
  if (buf.length < 4) return [];
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = dv.getUint32(0, true);
  if (4 + n * 8 > buf.length) return [];
  const sizes: number[] = [];
  for (let i = 0; i < n; i++) sizes.push(dv.getUint32(4 + i * 8, true), dv.getUint32(8 + i * 8, true));
  const out: Pair[] = [];
  let p = 4 + n * 8;
  for (let i = 0; i < n; i++) {
    const kl = sizes[2 * i],
      vl = sizes[2 * i + 1];
    if (p + kl + 1 + vl + 1 > buf.length) break; // cpp-host would read past the buffer; we stop.
    const k = dec.decode(buf.subarray(p, p + kl));
    p += kl + 1;
    const v = dec.decode(buf.subarray(p, p + vl));
    p += vl + 1;
    out.push([k, v]);
  }
  return out;
}
