// A streaming inflater: gzip (RFC 1952, every header field, several members), zlib (RFC 1950:
// what HTTP calls `deflate`) and raw deflate (RFC 1951, which some servers send as `deflate`).
// Written after zlib's inflate.c (a mode per resumable step) and Mark Adler's puff.c (the
// decoding itself, its checks on code sets).
//
// Resumable across any chunking without buffering input: bytes go into a 64-bit bit buffer,
// and every step reads at most 57 bits (a length/distance pair is at most 48), so a step that
// finds too few bits has already taken all of the chunk into the bit buffer; it restores the bit
// buffer as it was before the step and waits for the next chunk. The variable-length parts (a
// dynamic block's code lengths, the gzip header's optional fields, a stored block) advance one
// small piece at a time, so nothing is ever carried but the bit buffer.
//
// Memory per stream: the 32 KiB window (a ring the output is flushed from) and the code tables,
// pooled per VM. Output per response is capped (MAX_INFLATED_BYTES): a compression bomb is cut
// off as a broken stream. Any error (bad header, bad block type, bad code set, a distance
// further back than the output, a bad check value, truncation, trailing bytes) makes the stream
// `failed`; the inflater never traps.
import { Huffman, LOOKUP_BITS } from "./huffman";

const LOOKUP_MASK: i32 = (1 << LOOKUP_BITS) - 1;
import { adler32, crc32, crc32Byte } from "./checksum";

export const enum Wrap {
  Gzip = 0,
  /** HTTP `deflate`: zlib-wrapped, or raw deflate when the first two bytes are no zlib header. */
  Deflate = 1,
}

/** The most a response may inflate to; past it the stream is failed (a bomb, or absurd). */
export const MAX_INFLATED_BYTES: i64 = 64 << 20;

/** Receives the inflated bytes, in order, as contiguous slices valid during the call. */
export abstract class InflateSink {
  abstract inflated(ptr: usize, len: i32): void;
}

const WSIZE: i32 = 32768;
const WMASK: i32 = WSIZE - 1;

// Modes (zlib inflate.c names where they match).
const DETECT = 0; // HTTP deflate: zlib header or raw?
const ZHEAD = 1;
const GHEAD = 2; // the gzip header's ten fixed bytes
const GXLEN = 3;
const GEXTRA = 4;
const GNAME = 5;
const GCOMMENT = 6;
const GHCRC = 7;
const BLOCK = 8;
const STORED_LEN = 9;
const STORED = 10;
const TABLE = 11;
const CODELENS_CODE = 12;
const CODELENS = 13;
const CODES = 14;
const CHECK = 15; // the trailer: gzip CRC-32 + ISIZE, zlib Adler-32
const MEMBER = 16; // gzip: after a member, another may follow
const DONE = 17;
const BAD = 18;

const FEXTRA: u32 = 4;
const FNAME: u32 = 8;
const FCOMMENT: u32 = 16;
const FHCRC: u32 = 2;
// The optional header fields in the order they come.
const STAGE_EXTRA = 1;
const STAGE_NAME = 2;
const STAGE_COMMENT = 3;
const STAGE_HCRC = 4;

// A step either went on or needs more input.
const GO = 0;
const NEED = 1;
// decode() results besides a symbol.
const D_NEED = -1;
const D_BAD = -2;

const LBASE = StaticArray.fromArray<u16>([3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258]);
const LEXT = StaticArray.fromArray<u8>([0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0]);
const DBASE = StaticArray.fromArray<u16>([1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577]);
const DEXT = StaticArray.fromArray<u8>([0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13]);
/** The order code length code lengths are sent in. */
const CLEN_ORDER = StaticArray.fromArray<u8>([16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]);

// The fixed codes (block type 1), built once per VM.
const fixedLen = new Huffman(288);
const fixedDist = new Huffman(30);
{
  const lengths = new StaticArray<u8>(288);
  for (let s = 0; s < 288; s++) unchecked((lengths[s] = s < 144 ? 8 : s < 256 ? 9 : s < 280 ? 7 : 8));
  fixedLen.build(lengths, 0, 288);
  for (let s = 0; s < 30; s++) unchecked((lengths[s] = 5));
  fixedDist.build(lengths, 0, 30);
}

const POOL_MAX = 8;
const pool: Inflater[] = [];

export class Inflater {
  private wrap: Wrap = Wrap.Gzip;
  private zlib: bool = false;
  private sink: InflateSink | null = null;
  private mode: i32 = GHEAD;
  private bitbuf: u64 = 0;
  private bitcnt: i32 = 0;
  private inPos: usize = 0;
  private inEnd: usize = 0;
  private seenInput: bool = false;
  // Output: the window is a ring; `pending` bytes before `wpos` are not yet handed on.
  private window: StaticArray<u8> = new StaticArray<u8>(WSIZE);
  private win: usize = 0;
  private wpos: i32 = 0;
  private pending: i32 = 0;
  /** Bytes of history a distance may reach (at most the window). */
  private have: i32 = 0;
  private total: i64 = 0;
  private memberOut: u32 = 0;
  private check: u32 = 0;
  // Block state.
  private last: bool = false;
  private storedLeft: i32 = 0;
  private nlen: i32 = 0;
  private ndist: i32 = 0;
  private ncode: i32 = 0;
  private index: i32 = 0;
  private lengths: StaticArray<u8> = new StaticArray<u8>(320);
  private lencode: Huffman = new Huffman(288);
  private distcode: Huffman = new Huffman(30);
  private lcode: Huffman = fixedLen;
  private dcode: Huffman = fixedDist;
  // Header and trailer state.
  private flags: u32 = 0;
  private headCrc: u32 = 0;
  private extraLeft: i32 = 0;
  private trailer: u64 = 0;

  constructor() {
    this.win = changetype<usize>(this.window);
  }

  static acquire(wrap: Wrap, sink: InflateSink): Inflater {
    const z = pool.length > 0 ? pool.pop() : new Inflater();
    z.start(wrap, sink);
    return z;
  }

  /** Gives the inflater back to the VM's pool; the caller must not use it afterwards. */
  release(): void {
    this.sink = null;
    if (pool.length < POOL_MAX) pool.push(this);
  }

  private start(wrap: Wrap, sink: InflateSink): void {
    this.wrap = wrap;
    this.zlib = false;
    this.sink = sink;
    this.mode = wrap == Wrap.Gzip ? GHEAD : DETECT;
    this.bitbuf = 0;
    this.bitcnt = 0;
    this.inPos = 0;
    this.inEnd = 0;
    this.seenInput = false;
    this.wpos = 0;
    this.pending = 0;
    this.have = 0;
    this.total = 0;
    this.memberOut = 0;
    this.check = 0;
    this.last = false;
    this.index = 0;
    this.flags = 0;
    this.headCrc = 0;
    this.trailer = 0;
  }

  /** Whether the data was found broken (or too large); nothing more is inflated then. */
  get failed(): bool {
    return this.mode == BAD;
  }

  /** Total bytes inflated so far. */
  get inflatedBytes(): i64 {
    return this.total;
  }

  feed(ptr: usize, len: i32): void {
    if (len <= 0 || this.mode == BAD) return;
    this.seenInput = true;
    this.inPos = ptr;
    this.inEnd = ptr + <usize>len;
    this.run(false);
    this.flush();
  }

  /** The input has ended: true when it was one or more complete, sound streams (or nothing). */
  finish(): bool {
    this.inPos = 0;
    this.inEnd = 0;
    if (this.mode != BAD) this.run(true);
    this.flush();
    return this.mode != BAD;
  }

  private run(final: bool): void {
    while (true) {
      const mode = this.mode;
      if (mode == BAD) return;
      const r = this.step(mode, final);
      if (r == NEED) {
        if (final && !this.endsCleanly()) this.mode = BAD; // truncated
        return;
      }
    }
  }

  private endsCleanly(): bool {
    const mode = this.mode;
    if (mode == DONE || mode == MEMBER) return this.bitcnt == 0;
    return !this.seenInput; // no body at all
  }

  // ---- bits ------------------------------------------------------------------------------

  /** Takes input bytes into the bit buffer until it holds more than 56 bits or input ends. */
  @inline private refill(): void {
    let cnt = this.bitcnt;
    if (cnt > 56) return;
    let pos = this.inPos;
    const end = this.inEnd;
    let buf = this.bitbuf;
    if (pos + 8 <= end) {
      // Eight bytes at once; the bytes only partly taken are taken again by the next refill (the
      // same bits OR'ed in at the same place), so what is above bitcnt is always the next input.
      buf |= load<u64>(pos) << <u64>cnt;
      const n = (64 - cnt) >> 3;
      pos += <usize>n;
      cnt += n << 3;
    } else {
      while (cnt <= 56 && pos < end) {
        buf |= (<u64>load<u8>(pos)) << <u64>cnt;
        pos++;
        cnt += 8;
      }
    }
    this.bitbuf = buf;
    this.bitcnt = cnt;
    this.inPos = pos;
  }

  /** The next n bits (n <= bitcnt, checked by the caller), taken. */
  @inline private take(n: i32): u32 {
    const v = <u32>(this.bitbuf & ((<u64>1 << <u64>n) - 1));
    this.bitbuf >>= <u64>n;
    this.bitcnt -= n;
    return v;
  }

  /** One symbol of code h; D_NEED when the bits run out first, D_BAD for a code not in the set. */
  private decode(h: Huffman): i32 {
    const e = <i32>unchecked(h.lookup[<i32>(this.bitbuf & <u64>((1 << LOOKUP_BITS) - 1))]);
    if (e != 0) {
      const len = e & 15;
      if (len > this.bitcnt) return D_NEED;
      this.bitbuf >>= <u64>len;
      this.bitcnt -= len;
      return e >> 4;
    }
    // Longer than the lookup table: bit by bit from the counts (puff.c's decode()).
    let bits = this.bitbuf;
    let code = 0;
    let first = 0;
    let index = 0;
    for (let len = 1; len <= 15; len++) {
      code |= <i32>(bits & 1);
      bits >>= 1;
      const count = <i32>unchecked(h.count[len]);
      if (code - count < first) {
        if (len > this.bitcnt) return D_NEED;
        this.bitbuf >>= <u64>len;
        this.bitcnt -= len;
        return <i32>unchecked(h.symbol[index + (code - first)]);
      }
      index += count;
      first += count;
      first <<= 1;
      code <<= 1;
    }
    return this.bitcnt < 15 ? D_NEED : D_BAD;
  }

  // ---- output ----------------------------------------------------------------------------

  @inline private put(b: u32): void {
    store<u8>(this.win + <usize>this.wpos, <u8>b);
    this.wpos = (this.wpos + 1) & WMASK;
    this.pending++;
    if (this.wpos == 0) this.flush();
  }

  /** Copies len bytes from dist back (dist <= have, checked by the caller). */
  private copyMatch(dist: i32, len: i32): void {
    const win = this.win;
    while (len > 0) {
      const src = (this.wpos - dist) & WMASK;
      const n = min(len, min(WSIZE - this.wpos, WSIZE - src));
      if (dist >= n) {
        memory.copy(win + <usize>this.wpos, win + <usize>src, <usize>n);
      } else {
        // Overlapping (a run): byte by byte, each copy reading what the previous wrote.
        for (let i = 0; i < n; i++) store<u8>(win + <usize>(this.wpos + i), load<u8>(win + <usize>(src + i)));
      }
      this.wpos = (this.wpos + n) & WMASK;
      this.pending += n;
      len -= n;
      if (this.wpos == 0) this.flush();
    }
  }

  /** Copies len bytes of input (a stored block) into the window. */
  private copyInput(ptr: usize, len: i32): void {
    while (len > 0) {
      const n = min(len, WSIZE - this.wpos);
      memory.copy(this.win + <usize>this.wpos, ptr, <usize>n);
      this.wpos = (this.wpos + n) & WMASK;
      this.pending += n;
      ptr += <usize>n;
      len -= n;
      if (this.wpos == 0) this.flush();
    }
  }

  /** Hands the pending output on (it never wraps: a flush happens at every wrap). */
  private flush(): void {
    const n = this.pending;
    if (n == 0) return;
    this.pending = 0;
    if (this.mode == BAD) return; // nothing more is handed on once broken
    const ptr = this.win + <usize>((this.wpos - n) & WMASK);
    this.have = min(WSIZE, this.have + n);
    this.memberOut += <u32>n;
    this.total += <i64>n;
    if (this.total > MAX_INFLATED_BYTES) {
      this.mode = BAD;
      return;
    }
    this.check = this.zlib ? adler32(this.check, ptr, n) : crc32(this.check, ptr, n);
    const sink = this.sink;
    if (sink !== null) sink.inflated(ptr, n);
  }

  // ---- steps -----------------------------------------------------------------------------

  private step(mode: i32, final: bool): i32 {
    this.refill();
    switch (mode) {
      case DETECT: return this.detect(final);
      case ZHEAD: return this.zlibHeader();
      case GHEAD:
      case GXLEN:
      case GEXTRA:
      case GNAME:
      case GCOMMENT:
      case GHCRC: return this.gzipHeader();
      case BLOCK: return this.blockHeader();
      case STORED_LEN: return this.storedLength();
      case STORED: return this.stored();
      case TABLE: return this.table();
      case CODELENS_CODE: return this.codeLengthCode();
      case CODELENS: return this.codeLengths();
      case CODES: return this.codes();
      case CHECK: return this.trailerStep();
      case MEMBER: {
        if (this.bitcnt < 8) return NEED;
        this.startGzipMember();
        return GO;
      }
      default: {
        // DONE: only the padding of the last byte may follow.
        if (this.bitcnt != 0) this.mode = BAD;
        return NEED;
      }
    }
  }

  private detect(final: bool): i32 {
    if (this.bitcnt < 16) {
      if (!final) return NEED;
      this.mode = BLOCK; // too short for a zlib header: raw (and a truncation error below)
      return GO;
    }
    const cmf = <u32>(this.bitbuf & 0xff);
    const flg = <u32>((this.bitbuf >> 8) & 0xff);
    // RFC 1950: CM 8 (deflate), CINFO <= 7, FCHECK makes CMF*256+FLG a multiple of 31.
    if ((cmf & 0x0f) == 8 && cmf >> 4 <= 7 && ((cmf << 8) | flg) % 31 == 0) {
      this.mode = ZHEAD;
    } else {
      this.mode = BLOCK;
    }
    return GO;
  }

  private zlibHeader(): i32 {
    if (this.bitcnt < 16) return NEED;
    this.take(8);
    const flg = this.take(8);
    if (flg & 0x20) {
      this.mode = BAD; // a preset dictionary: never used over HTTP, not supported
      return GO;
    }
    this.zlib = true;
    this.check = 1;
    this.mode = BLOCK;
    return GO;
  }

  private startGzipMember(): void {
    this.mode = GHEAD;
    this.index = 0;
    this.flags = 0;
    this.headCrc = 0;
    this.check = 0;
    this.memberOut = 0;
  }

  /** The gzip header, a byte at a time (its optional fields have no bound but 64 KiB or a NUL). */
  private gzipHeader(): i32 {
    while (this.bitcnt >= 8) {
      const b = this.take(8);
      const mode = this.mode;
      if (mode != GHCRC) this.headCrc = crc32Byte(this.headCrc, b);
      if (mode == GHEAD) {
        const i = this.index++;
        if ((i == 0 && b != 0x1f) || (i == 1 && b != 0x8b) || (i == 2 && b != 8) || (i == 3 && (b & 0xe0) != 0)) {
          this.mode = BAD;
          return GO;
        }
        if (i == 3) this.flags = b;
        if (i == 9) {
          this.index = 0;
          this.nextHeaderField(STAGE_EXTRA);
        }
      } else if (mode == GXLEN) {
        this.extraLeft |= <i32>b << (this.index << 3);
        if (++this.index == 2) {
          this.index = 0;
          this.mode = GEXTRA;
          if (this.extraLeft == 0) this.nextHeaderField(STAGE_NAME);
        }
      } else if (mode == GEXTRA) {
        if (--this.extraLeft == 0) this.nextHeaderField(STAGE_NAME);
      } else if (mode == GNAME) {
        if (b == 0) this.nextHeaderField(STAGE_COMMENT);
      } else if (mode == GCOMMENT) {
        if (b == 0) this.nextHeaderField(STAGE_HCRC);
      } else {
        // GHCRC: the low 16 bits of the CRC-32 of the header bytes before it.
        this.trailer |= <u64>b << <u64>(this.index << 3);
        if (++this.index == 2) {
          if (<u32>this.trailer != (this.headCrc & 0xffff)) {
            this.mode = BAD;
            return GO;
          }
          this.trailer = 0;
          this.index = 0;
          this.mode = BLOCK;
        }
      }
      if (this.mode == BLOCK) return GO;
      if (this.bitcnt < 8) this.refill();
    }
    return NEED;
  }

  /** After a header field: the next one the flags announce (header order: extra, name,
   *  comment, header CRC), from stage `from` on, or the blocks. */
  private nextHeaderField(from: i32): void {
    const f = this.flags;
    this.index = 0;
    this.trailer = 0;
    this.extraLeft = 0;
    if (from <= STAGE_EXTRA && f & FEXTRA) this.mode = GXLEN;
    else if (from <= STAGE_NAME && f & FNAME) this.mode = GNAME;
    else if (from <= STAGE_COMMENT && f & FCOMMENT) this.mode = GCOMMENT;
    else if (f & FHCRC) this.mode = GHCRC;
    else this.mode = BLOCK;
  }

  private blockHeader(): i32 {
    if (this.bitcnt < 3) return NEED;
    this.last = this.take(1) != 0;
    const type = this.take(2);
    if (type == 0) {
      this.take(this.bitcnt & 7); // to a byte boundary
      this.mode = STORED_LEN;
    } else if (type == 1) {
      this.lcode = fixedLen;
      this.dcode = fixedDist;
      this.mode = CODES;
    } else if (type == 2) {
      this.mode = TABLE;
    } else {
      this.mode = BAD;
    }
    return GO;
  }

  private storedLength(): i32 {
    if (this.bitcnt < 32) return NEED;
    const len = this.take(16);
    const nlen = this.take(16);
    if (len != (~nlen & 0xffff)) {
      this.mode = BAD;
      return GO;
    }
    this.storedLeft = <i32>len;
    this.mode = STORED;
    return GO;
  }

  private stored(): i32 {
    // Whole bytes already in the bit buffer first, then straight from the input.
    while (this.storedLeft > 0 && this.bitcnt >= 8) {
      this.put(this.take(8));
      this.storedLeft--;
    }
    if (this.storedLeft > 0 && this.mode != BAD) {
      const n = min(this.storedLeft, <i32>(this.inEnd - this.inPos));
      if (n > 0) {
        this.copyInput(this.inPos, n);
        this.inPos += <usize>n;
        this.storedLeft -= n;
      }
    }
    if (this.mode == BAD) return GO;
    if (this.storedLeft > 0) return NEED;
    this.endBlock();
    return GO;
  }

  private table(): i32 {
    if (this.bitcnt < 14) return NEED;
    this.nlen = <i32>this.take(5) + 257;
    this.ndist = <i32>this.take(5) + 1;
    this.ncode = <i32>this.take(4) + 4;
    if (this.nlen > 286 || this.ndist > 30) {
      this.mode = BAD;
      return GO;
    }
    this.index = 0;
    this.mode = CODELENS_CODE;
    return GO;
  }

  private codeLengthCode(): i32 {
    const lengths = this.lengths;
    while (this.index < this.ncode) {
      if (this.bitcnt < 3) return NEED;
      unchecked((lengths[<i32>unchecked(CLEN_ORDER[this.index])] = <u8>this.take(3)));
      this.index++;
    }
    for (let i = this.ncode; i < 19; i++) unchecked((lengths[<i32>unchecked(CLEN_ORDER[i])] = 0));
    // The code length code must be complete (puff.c).
    if (this.lencode.build(lengths, 0, 19) != 0) {
      this.mode = BAD;
      return GO;
    }
    this.index = 0;
    this.mode = CODELENS;
    return GO;
  }

  private codeLengths(): i32 {
    const lengths = this.lengths;
    const n = this.nlen + this.ndist;
    while (this.index < n) {
      if (this.bitcnt < 14) this.refill();
      const bb = this.bitbuf;
      const bc = this.bitcnt;
      const sym = this.decode(this.lencode);
      if (sym == D_NEED) return NEED;
      if (sym < 0) {
        this.mode = BAD;
        return GO;
      }
      if (sym < 16) {
        unchecked((lengths[this.index++] = <u8>sym));
        continue;
      }
      let len: u8 = 0;
      let rep: i32;
      if (sym == 16) {
        if (this.index == 0) {
          this.mode = BAD; // nothing to repeat
          return GO;
        }
        len = unchecked(lengths[this.index - 1]);
        if (this.bitcnt < 2) return this.restore(bb, bc);
        rep = 3 + <i32>this.take(2);
      } else if (sym == 17) {
        if (this.bitcnt < 3) return this.restore(bb, bc);
        rep = 3 + <i32>this.take(3);
      } else {
        if (this.bitcnt < 7) return this.restore(bb, bc);
        rep = 11 + <i32>this.take(7);
      }
      if (this.index + rep > n) {
        this.mode = BAD;
        return GO;
      }
      for (let i = 0; i < rep; i++) unchecked((lengths[this.index++] = len));
    }
    // A block must be able to end; only a one-symbol code may be incomplete (puff.c).
    if (unchecked(lengths[256]) == 0) {
      this.mode = BAD;
      return GO;
    }
    const lerr = this.lencode.build(lengths, 0, this.nlen);
    if (lerr < 0 || (lerr > 0 && this.nlen != <i32>this.lencode.count[0] + <i32>this.lencode.count[1])) {
      this.mode = BAD;
      return GO;
    }
    const derr = this.distcode.build(lengths, this.nlen, this.ndist);
    if (derr < 0 || (derr > 0 && this.ndist != <i32>this.distcode.count[0] + <i32>this.distcode.count[1])) {
      this.mode = BAD;
      return GO;
    }
    this.lcode = this.lencode;
    this.dcode = this.distcode;
    this.mode = CODES;
    return GO;
  }

  @inline private restore(bb: u64, bc: i32): i32 {
    this.bitbuf = bb;
    this.bitcnt = bc;
    return NEED;
  }

  /** Literals and length/distance pairs until the end of the block: the hot loop. The bit
   *  buffer, input and window positions live in locals here and go back to the fields (sync)
   *  around every call that uses them: the slow decode, a match copy, a flush. */
  private codes(): i32 {
    const lcode = this.lcode;
    const dcode = this.dcode;
    const llook = changetype<usize>(lcode.lookup);
    const dlook = changetype<usize>(dcode.lookup);
    const win = this.win;
    const end = this.inEnd;
    let buf = this.bitbuf;
    let cnt = this.bitcnt;
    let pos = this.inPos;
    let wpos = this.wpos;
    let pending = this.pending;
    while (true) {
      if (cnt <= 56) {
        if (pos + 8 <= end) {
          buf |= load<u64>(pos) << <u64>cnt;
          const n = (64 - cnt) >> 3;
          pos += <usize>n;
          cnt += n << 3;
        } else {
          while (cnt <= 56 && pos < end) {
            buf |= (<u64>load<u8>(pos)) << <u64>cnt;
            pos++;
            cnt += 8;
          }
        }
      }
      const savedBuf = buf;
      const savedCnt = cnt;
      let sym: i32;
      const e = <i32>load<u16>(llook + (<usize>(buf & <u64>LOOKUP_MASK) << 1));
      if (e != 0 && (e & 15) <= cnt) {
        buf >>= <u64>(e & 15);
        cnt -= e & 15;
        sym = e >> 4;
      } else {
        this.bitbuf = buf;
        this.bitcnt = cnt;
        sym = this.decode(lcode);
        buf = this.bitbuf;
        cnt = this.bitcnt;
        if (sym < 0) {
          this.sync(savedBuf, savedCnt, pos, wpos, pending);
          if (sym == D_NEED) return NEED;
          this.mode = BAD;
          return GO;
        }
      }
      if (sym < 256) {
        store<u8>(win + <usize>wpos, <u8>sym);
        wpos = (wpos + 1) & WMASK;
        pending++;
        if (wpos == 0) {
          this.sync(buf, cnt, pos, wpos, pending);
          this.flush();
          if (this.mode == BAD) return GO;
          pending = 0;
        }
        continue;
      }
      if (sym == 256) {
        this.sync(buf, cnt, pos, wpos, pending);
        this.endBlock();
        return GO;
      }
      sym -= 257;
      if (sym >= 29) {
        this.mode = BAD;
        return GO;
      }
      const le = <i32>unchecked(LEXT[sym]);
      if (cnt < le) {
        this.sync(savedBuf, savedCnt, pos, wpos, pending);
        return NEED;
      }
      const len = <i32>unchecked(LBASE[sym]) + <i32>(buf & ((<u64>1 << <u64>le) - 1));
      buf >>= <u64>le;
      cnt -= le;
      let ds: i32;
      const d = <i32>load<u16>(dlook + (<usize>(buf & <u64>LOOKUP_MASK) << 1));
      if (d != 0 && (d & 15) <= cnt) {
        buf >>= <u64>(d & 15);
        cnt -= d & 15;
        ds = d >> 4;
      } else {
        this.bitbuf = buf;
        this.bitcnt = cnt;
        ds = this.decode(dcode);
        buf = this.bitbuf;
        cnt = this.bitcnt;
        if (ds < 0) {
          this.sync(savedBuf, savedCnt, pos, wpos, pending);
          if (ds == D_NEED) return NEED;
          this.mode = BAD;
          return GO;
        }
      }
      if (ds >= 30) {
        this.mode = BAD;
        return GO;
      }
      const de = <i32>unchecked(DEXT[ds]);
      if (cnt < de) {
        this.sync(savedBuf, savedCnt, pos, wpos, pending);
        return NEED;
      }
      const dist = <i32>unchecked(DBASE[ds]) + <i32>(buf & ((<u64>1 << <u64>de) - 1));
      buf >>= <u64>de;
      cnt -= de;
      if (dist > min(WSIZE, this.have + pending)) {
        this.mode = BAD; // further back than the output reaches
        return GO;
      }
      this.sync(buf, cnt, pos, wpos, pending);
      this.copyMatch(dist, len);
      if (this.mode == BAD) return GO;
      wpos = this.wpos;
      pending = this.pending;
    }
    // biome-ignore lint/correctness/noUnreachable: AssemblyScript wants a return after the loop
    return GO;
  }

  @inline private sync(buf: u64, cnt: i32, pos: usize, wpos: i32, pending: i32): void {
    this.bitbuf = buf;
    this.bitcnt = cnt;
    this.inPos = pos;
    this.wpos = wpos;
    this.pending = pending;
  }

  private endBlock(): void {
    if (!this.last) {
      this.mode = BLOCK;
      return;
    }
    this.take(this.bitcnt & 7); // the trailer (or the end) starts on a byte boundary
    this.index = 0;
    this.trailer = 0;
    this.mode = this.wrap == Wrap.Gzip || this.zlib ? CHECK : DONE;
  }

  private trailerStep(): i32 {
    const size = this.zlib ? 4 : 8;
    while (this.index < size) {
      if (this.bitcnt < 8) return NEED;
      this.trailer |= <u64>this.take(8) << <u64>(this.index << 3);
      this.index++;
    }
    this.flush(); // the check covers every byte of output
    if (this.mode == BAD) return GO;
    if (this.zlib) {
      // Adler-32, most significant byte first.
      if (bswap<u32>(<u32>this.trailer) != this.check) this.mode = BAD;
      else this.mode = DONE;
    } else {
      if (<u32>this.trailer != this.check || <u32>(this.trailer >> 32) != this.memberOut) this.mode = BAD;
      else this.mode = MEMBER;
    }
    return GO;
  }
}
