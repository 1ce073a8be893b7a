// Byte classes shared by the scanner, the SSE prefilter, the config reader and the shapes' path
// decoding: one definition each, so the readers cannot drift apart.

/** The value of the hex digit `c` (0-9, a-f, A-F), or -1 for any other code unit. */
// @ts-ignore: decorator
@inline
export function hexDigit(c: u32): i32 {
  if (c - 0x30 < 10) return <i32>(c - 0x30);
  const letter = (c | 0x20) - 0x61;
  return letter < 6 ? <i32>letter + 10 : -1;
}

/** Whether `c` continues a JSON literal: digits, letters, '-', '+', '.' - numbers and
 *  true/false/null, and junk words kept together ("nullx" is no null). */
// @ts-ignore: decorator
@inline
export function isLiteralByte(c: u32): bool {
  return c - 0x30 < 10 || (c | 0x20) - 0x61 < 26 || c == 0x2d || c == 0x2b || c == 0x2e;
}
