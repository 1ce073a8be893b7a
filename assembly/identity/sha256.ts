// SHA-256 (FIPS 180-4) of a byte string, for the API key label: the key itself must never
// reach a stat name, a log or filter state, but a short prefix of its hash lets an operator
// tell callers apart and match a key they hold (`printf %s "$KEY" | sha256sum | cut -c1-12`).
// A plain, unsalted hash on purpose: the same key gives the same label in every sidecar.

const K: StaticArray<u32> = [
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

/** The 32-byte digest of `data`. */
export function sha256(data: Uint8Array): StaticArray<u8> {
  const h = new StaticArray<u32>(8);
  h[0] = 0x6a09e667; h[1] = 0xbb67ae85; h[2] = 0x3c6ef372; h[3] = 0xa54ff53a;
  h[4] = 0x510e527f; h[5] = 0x9b05688c; h[6] = 0x1f83d9ab; h[7] = 0x5be0cd19;
  const n = data.length;
  // The message, a 0x80 byte, zeros, and the bit length (64-bit big-endian), in 64-byte blocks.
  const blocks = ((n + 8) >> 6) + 1;
  const padded = new Uint8Array(blocks << 6);
  memory.copy(padded.dataStart, data.dataStart, <usize>n);
  padded[n] = 0x80;
  const bits = <u64>n << 3;
  for (let i = 0; i < 8; i++) padded[(blocks << 6) - 1 - i] = <u8>(bits >> (<u64>(i << 3)));
  const w = new StaticArray<u32>(64);
  for (let b = 0; b < blocks; b++) {
    const at = b << 6;
    for (let t = 0; t < 16; t++) {
      const p = at + (t << 2);
      unchecked(w[t] = (<u32>padded[p] << 24) | (<u32>padded[p + 1] << 16) | (<u32>padded[p + 2] << 8) | <u32>padded[p + 3]);
    }
    for (let t = 16; t < 64; t++) {
      const x = unchecked(w[t - 15]), y = unchecked(w[t - 2]);
      const s0 = rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3);
      const s1 = rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10);
      unchecked(w[t] = unchecked(w[t - 16]) + s0 + unchecked(w[t - 7]) + s1);
    }
    let a = h[0], bb = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
    for (let t = 0; t < 64; t++) {
      const t1 = hh + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + unchecked(K[t]) + unchecked(w[t]);
      const t2 = (rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c));
      hh = g; g = f; f = e; e = d + t1; d = c; c = bb; bb = a; a = t1 + t2;
    }
    h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e; h[5] += f; h[6] += g; h[7] += hh;
  }
  const out = new StaticArray<u8>(32);
  for (let i = 0; i < 8; i++) {
    out[i << 2] = <u8>(h[i] >>> 24);
    out[(i << 2) + 1] = <u8>(h[i] >>> 16);
    out[(i << 2) + 2] = <u8>(h[i] >>> 8);
    out[(i << 2) + 3] = <u8>h[i];
  }
  return out;
}

// @ts-ignore: decorator
@inline
function rotr(x: u32, n: u32): u32 {
  return (x >>> n) | (x << (32 - n));
}

const HEX = "0123456789abcdef";

/** The first `chars` (<= 64) lowercase hex digits of SHA-256(data). */
export function sha256HexPrefix(data: Uint8Array, chars: i32): string {
  const digest = sha256(data);
  const n = min(chars, 64);
  let out = "";
  for (let i = 0; i < n; i++) {
    const byte = <i32>digest[i >> 1];
    out += HEX.charAt((i & 1) == 0 ? byte >> 4 : byte & 15);
  }
  return out;
}
