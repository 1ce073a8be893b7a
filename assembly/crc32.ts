// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320; the one zlib, gzip and AWS event
// streams use), updatable across chunks. Slicing-by-4 (four 256-entry tables, 4 KiB): four
// bytes per step, about three times the byte-at-a-time loop (the event stream checks every
// byte of a Bedrock stream twice over: prelude and message CRCs).

const T0 = new StaticArray<u32>(256);
const T1 = new StaticArray<u32>(256);
const T2 = new StaticArray<u32>(256);
const T3 = new StaticArray<u32>(256);
for (let n: u32 = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  unchecked((T0[n] = c));
}
for (let n = 0; n < 256; n++) {
  const c0 = unchecked(T0[n]);
  const c1 = unchecked(T0[c0 & 0xff]) ^ (c0 >>> 8);
  const c2 = unchecked(T0[c1 & 0xff]) ^ (c1 >>> 8);
  unchecked((T1[n] = c1));
  unchecked((T2[n] = c2));
  unchecked((T3[n] = unchecked(T0[c2 & 0xff]) ^ (c2 >>> 8)));
}

/** The CRC of `crc`'s bytes followed by [ptr, ptr + len); start from 0. */
export function crc32Update(crc: u32, ptr: usize, len: i32): u32 {
  let c = ~crc;
  let p = ptr;
  const end = ptr + <usize>len;
  while (p + 4 <= end) {
    c ^= load<u32>(p); // little-endian: the first byte is the low one, as the reflected CRC wants
    c = unchecked(T3[c & 0xff]) ^ unchecked(T2[(c >>> 8) & 0xff]) ^ unchecked(T1[(c >>> 16) & 0xff]) ^ unchecked(T0[c >>> 24]);
    p += 4;
  }
  while (p < end) {
    c = unchecked(T0[(c ^ <u32>load<u8>(p)) & 0xff]) ^ (c >>> 8);
    p++;
  }
  return ~c;
}
