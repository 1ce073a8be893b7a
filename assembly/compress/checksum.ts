// The checks the compressed formats carry over their uncompressed data: CRC-32 (gzip, RFC 1952
// section 8) and Adler-32 (zlib, RFC 1950 section 9), both updated slice by slice.

// Slicing-by-8 (eight tables of 256, 8 KiB): eight bytes per step instead of one, the method of
// zlib's crc32.c "braided" predecessors; table k advances a byte's CRC over k more zero bytes.
const CRC_TABLE = new StaticArray<u32>(256 * 8);
for (let n: u32 = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  unchecked((CRC_TABLE[n] = c));
}
for (let n = 0; n < 256; n++) {
  for (let k = 1; k < 8; k++) {
    const prev = unchecked(CRC_TABLE[(k - 1) * 256 + n]);
    unchecked((CRC_TABLE[k * 256 + n] = (prev >>> 8) ^ CRC_TABLE[prev & 0xff]));
  }
}

// @ts-ignore: decorator
@inline
function t(k: i32, i: u32): u32 {
  return load<u32>(changetype<usize>(CRC_TABLE) + ((<usize>k << 10) | (<usize>(i & 0xff) << 2)));
}

/** The CRC-32 of [ptr, ptr + len) continued from `crc` (0 for a fresh one). */
export function crc32(crc: u32, ptr: usize, len: i32): u32 {
  let c = ~crc;
  let p = ptr;
  const end = ptr + <usize>len;
  while (p + 8 <= end) {
    const lo = load<u32>(p) ^ c;
    const hi = load<u32>(p, 4);
    c = t(7, lo) ^ t(6, lo >>> 8) ^ t(5, lo >>> 16) ^ t(4, lo >>> 24) ^ t(3, hi) ^ t(2, hi >>> 8) ^ t(1, hi >>> 16) ^ t(0, hi >>> 24);
    p += 8;
  }
  for (; p < end; p++) c = t(0, c ^ <u32>load<u8>(p)) ^ (c >>> 8);
  return ~c;
}

/** One byte into a CRC-32 (the gzip header's optional FHCRC). */
export function crc32Byte(crc: u32, b: u32): u32 {
  const c = ~crc;
  return ~(t(0, c ^ b) ^ (c >>> 8));
}

const ADLER_BASE: u32 = 65521;
/** Bytes summed before the modulo: the largest n with 255n(n+1)/2 + (n+1)(BASE-1) < 2^32 (zlib's NMAX). */
const ADLER_NMAX: i32 = 5552;

/** The Adler-32 of [ptr, ptr + len) continued from `adler` (1 for a fresh one). */
export function adler32(adler: u32, ptr: usize, len: i32): u32 {
  let a = adler & 0xffff;
  let b = adler >>> 16;
  let p = ptr;
  let left = len;
  while (left > 0) {
    const n = min(left, ADLER_NMAX);
    const end = p + <usize>n;
    for (; p < end; p++) {
      a += <u32>load<u8>(p);
      b += a;
    }
    a %= ADLER_BASE;
    b %= ADLER_BASE;
    left -= n;
  }
  return (b << 16) | a;
}
