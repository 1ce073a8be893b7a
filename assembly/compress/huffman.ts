// Canonical Huffman codes of deflate (RFC 1951 section 3.2.2), built from code lengths as
// Mark Adler's puff.c builds them (count per length + symbols in code order), plus a lookup
// table for codes of up to LOOKUP_BITS bits so that most symbols cost one table read; longer
// codes are decoded bit by bit from the counts, as puff.c decodes every code.

/** Codes this short or shorter are decoded with one table read. */
export const LOOKUP_BITS: i32 = 10;
const LOOKUP_SIZE: i32 = 1 << LOOKUP_BITS;
export const MAX_BITS: i32 = 15;

export class Huffman {
  /** Codes per length (index 0: symbols without a code). */
  count: StaticArray<u16> = new StaticArray<u16>(MAX_BITS + 1);
  /** Symbols ordered by code. */
  symbol: StaticArray<u16>;
  /** Indexed by the next LOOKUP_BITS input bits (first bit lowest): symbol << 4 | code length,
   *  or 0 when the code there is longer than LOOKUP_BITS (or no code starts so). */
  lookup: StaticArray<u16> = new StaticArray<u16>(LOOKUP_SIZE);
  private offs: StaticArray<u16> = new StaticArray<u16>(MAX_BITS + 1);

  constructor(maxSymbols: i32) {
    this.symbol = new StaticArray<u16>(maxSymbols);
  }

  /** Builds the code for lengths[offset, offset + n). Returns 0 for a complete code, a negative
   *  number for an over-subscribed one (never decodable) and a positive one for an incomplete
   *  code (the caller decides whether that is allowed, as puff.c does). */
  build(lengths: StaticArray<u8>, offset: i32, n: i32): i32 {
    const count = this.count;
    for (let len = 0; len <= MAX_BITS; len++) unchecked((count[len] = 0));
    for (let s = 0; s < n; s++) {
      const l = <i32>unchecked(lengths[offset + s]);
      unchecked((count[l] = count[l] + 1));
    }
    const lookup = this.lookup;
    memory.fill(changetype<usize>(lookup), 0, <usize>LOOKUP_SIZE << 1);
    if (<i32>unchecked(count[0]) == n) return 0; // no codes: complete, but decoding fails
    let left = 1;
    for (let len = 1; len <= MAX_BITS; len++) {
      left <<= 1;
      left -= <i32>unchecked(count[len]);
      if (left < 0) return left;
    }
    const offs = this.offs;
    unchecked((offs[1] = 0));
    for (let len = 1; len < MAX_BITS; len++) unchecked((offs[len + 1] = offs[len] + count[len]));
    const symbol = this.symbol;
    for (let s = 0; s < n; s++) {
      const l = <i32>unchecked(lengths[offset + s]);
      if (l != 0) {
        const at = <i32>unchecked(offs[l]);
        unchecked((symbol[at] = <u16>s));
        unchecked((offs[l] = <u16>(at + 1)));
      }
    }
    // Lookup entries: the code of each short symbol, bit-reversed (deflate sends a Huffman code
    // first bit first, into the low end of the bit buffer), repeated over the bits that follow.
    let code = 0;
    let index = 0;
    for (let len = 1; len <= LOOKUP_BITS; len++) {
      const c = <i32>unchecked(count[len]);
      for (let i = 0; i < c; i++) {
        const entry = <u16>((<i32>unchecked(symbol[index + i]) << 4) | len);
        for (let j = reverse(code + i, len); j < LOOKUP_SIZE; j += 1 << len) unchecked((lookup[j] = entry));
      }
      index += c;
      code = (code + c) << 1;
    }
    return left;
  }
}

function reverse(code: i32, len: i32): i32 {
  let r = 0;
  for (let i = 0; i < len; i++) {
    r = (r << 1) | (code & 1);
    code >>= 1;
  }
  return r;
}
