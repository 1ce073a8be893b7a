// 16-bytes-a-step searches (wasm SIMD; V8, and so Envoy, run it). The scalar tail handles the
// last < 16 bytes of a chunk. These are where a scan of a large body spends its time.

/** First address in [p, end) holding byte `x` or byte `y`, or end. Inlined with constants, so
 *  the splats fold. */
// @ts-ignore: decorator
@inline
function findEither(p: usize, end: usize, x: u8, y: u8): usize {
  const vx = i8x16.splat(x);
  const vy = i8x16.splat(y);
  while (p + 16 <= end) {
    const v = v128.load(p);
    const m = i8x16.bitmask(v128.or(i8x16.eq(v, vx), i8x16.eq(v, vy)));
    if (m != 0) return p + <usize>ctz(m);
    p += 16;
  }
  while (p < end) {
    const c = load<u8>(p);
    if (c == x || c == y) return p;
    p++;
  }
  return end;
}

/** First address in [p, end) holding `"`, or end. */
// @ts-ignore: decorator
@inline
export function findQuote(p: usize, end: usize): usize {
  return findEither(p, end, 0x22, 0x22);
}

/** First address in [p, end) holding `"` or `\`, or end. */
// @ts-ignore: decorator
@inline
export function findQuoteOrBackslash(p: usize, end: usize): usize {
  return findEither(p, end, 0x22, 0x5c);
}

/** First address in [p, end) holding `\n` or `\r`, or end. */
// @ts-ignore: decorator
@inline
export function findLineEnd(p: usize, end: usize): usize {
  return findEither(p, end, 0x0a, 0x0d);
}

/** First address in [p, end) holding `"`, `\`, `[`, `]`, `{` or `}`, or end. `[`/`{` and `]`/`}`
 *  differ only in bit 5, so two compares of (byte | 0x20) find all four brackets. */
// @ts-ignore: decorator
@inline
export function findStructural(p: usize, end: usize): usize {
  const quote = i8x16.splat(0x22);
  const backslash = i8x16.splat(0x5c);
  const bit5 = i8x16.splat(0x20);
  const open = i8x16.splat(0x7b);
  const close = i8x16.splat(0x7d);
  while (p + 16 <= end) {
    const v = v128.load(p);
    const folded = v128.or(v, bit5);
    const hits = v128.or(
      v128.or(i8x16.eq(v, quote), i8x16.eq(v, backslash)),
      v128.or(i8x16.eq(folded, open), i8x16.eq(folded, close)),
    );
    const m = i8x16.bitmask(hits);
    if (m != 0) return p + <usize>ctz(m);
    p += 16;
  }
  while (p < end) {
    const c = load<u8>(p);
    const f = c | 0x20;
    if (c == 0x22 || c == 0x5c || f == 0x7b || f == 0x7d) return p;
    p++;
  }
  return end;
}

/** First address in [p, end) holding a `"` whose next byte is one of b0..b3 or `\` (or that is
 *  the last byte), or end: where a key named by one of those first bytes, or an escaped key,
 *  might start. Two overlapping loads (at p and p + 1) pair each byte with its successor. */
// @ts-ignore: decorator
@inline
export function findQuoteBefore(p: usize, end: usize, b0: u8, b1: u8, b2: u8, b3: u8, b4: u8): usize {
  const quote = i8x16.splat(0x22);
  const backslash = i8x16.splat(0x5c);
  const v0 = i8x16.splat(b0);
  const v1 = i8x16.splat(b1);
  const v2 = i8x16.splat(b2);
  const v3 = i8x16.splat(b3);
  const v4 = i8x16.splat(b4);
  while (p + 17 <= end) {
    const here = v128.load(p);
    const next = v128.load(p + 1);
    const first = v128.or(
      v128.or(v128.or(i8x16.eq(next, v0), i8x16.eq(next, v1)), i8x16.eq(next, v4)),
      v128.or(v128.or(i8x16.eq(next, v2), i8x16.eq(next, v3)), i8x16.eq(next, backslash)),
    );
    const m = i8x16.bitmask(v128.and(i8x16.eq(here, quote), first));
    if (m != 0) return p + <usize>ctz(m);
    p += 16;
  }
  while (p < end) {
    if (load<u8>(p) == 0x22) {
      if (p + 1 == end) return p;
      const c = load<u8>(p + 1);
      if (c == b0 || c == b1 || c == b2 || c == b3 || c == b4 || c == 0x5c) return p;
    }
    p++;
  }
  return end;
}
