// Client-supplied text (a model name) made safe for filter state that access logs print and
// CEL reads as a string: valid UTF-8 whatever the bytes (the JSON decoder passes raw bytes and
// lone-surrogate escapes through as they are), never cut inside a character, control
// characters as '_' (they would corrupt a text access-log line).

/** U+FFFD REPLACEMENT CHARACTER in UTF-8. */
const FFFD_0: u8 = 0xef;
const FFFD_1: u8 = 0xbf;
const FFFD_2: u8 = 0xbd;

// @ts-ignore: decorator
@inline
function cont(b: u32): bool {
  return (b & 0xc0) == 0x80;
}

/** The length of the well-formed UTF-8 sequence starting at `i` (Unicode Table 3-7: no
 *  overlongs, no surrogates, nothing past U+10FFFF), or 0 if there is none. */
function sequenceLength(src: Uint8Array, i: i32): i32 {
  const n = src.length;
  const b0 = <u32>unchecked(src[i]);
  if (b0 < 0x80) return 1;
  if (b0 < 0xc2 || b0 > 0xf4) return 0;
  if (i + 1 >= n) return 0;
  const b1 = <u32>unchecked(src[i + 1]);
  if (b0 < 0xe0) return cont(b1) ? 2 : 0;
  let lo: u32 = 0x80, hi: u32 = 0xbf;
  if (b0 == 0xe0) lo = 0xa0;
  else if (b0 == 0xed) hi = 0x9f; // U+D800..U+DFFF are not characters
  else if (b0 == 0xf0) lo = 0x90;
  else if (b0 == 0xf4) hi = 0x8f;
  if (b1 < lo || b1 > hi) return 0;
  if (i + 2 >= n || !cont(<u32>unchecked(src[i + 2]))) return 0;
  if (b0 < 0xf0) return 3;
  if (i + 3 >= n || !cont(<u32>unchecked(src[i + 3]))) return 0;
  return 4;
}

/** Writes `src` to `out` as valid UTF-8 of at most `max` bytes: each byte that starts no
 *  well-formed sequence becomes U+FFFD, control characters become '_', and a character that
 *  would not fit whole is left out with everything after it. Returns the bytes written. */
export function writeSafeUtf8(src: Uint8Array, out: usize, max: i32): i32 {
  let i = 0;
  let w = 0;
  const n = src.length;
  while (i < n) {
    const len = sequenceLength(src, i);
    if (len == 0) {
      if (w + 3 > max) break;
      store<u8>(out + <usize>w, FFFD_0);
      store<u8>(out + <usize>w + 1, FFFD_1);
      store<u8>(out + <usize>w + 2, FFFD_2);
      w += 3;
      i += 1;
      continue;
    }
    if (w + len > max) break;
    if (len == 1) {
      const c = unchecked(src[i]);
      store<u8>(out + <usize>w, c < 0x20 || c == 0x7f ? 0x5f : c);
    } else {
      for (let k = 0; k < len; k++) store<u8>(out + <usize>(w + k), unchecked(src[i + k]));
      // C1 controls (U+0080..U+009F, C2 80..C2 9F) are control characters too.
      if (len == 2 && <u32>unchecked(src[i]) == 0xc2 && <u32>unchecked(src[i + 1]) < 0xa0) {
        store<u8>(out + <usize>w, 0x5f);
        w += 1;
        i += 2;
        continue;
      }
    }
    w += len;
    i += len;
  }
  return w;
}
