// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320; the one zlib, gzip and AWS event
// streams use), table-driven one byte at a time, updatable across chunks.

const TABLE = new StaticArray<u32>(256);
for (let n: u32 = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  unchecked((TABLE[n] = c));
}

/** The CRC of `crc`'s bytes followed by [ptr, ptr + len); start from 0. */
export function crc32Update(crc: u32, ptr: usize, len: i32): u32 {
  let c = ~crc;
  for (let i = 0; i < len; i++) c = unchecked(TABLE[(c ^ <u32>load<u8>(ptr + <usize>i)) & 0xff]) ^ (c >>> 8);
  return ~c;
}
