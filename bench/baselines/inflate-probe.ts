// Not a filter: assembly/compress/inflate.ts alone, for tests/inflate.test.ts (checked against
// node:zlib) and the bench (inflate throughput against node:zlib in the same run). The caller
// writes input at inputBuffer(n), feeds it in any slices, and reads the output back.
import { Inflater, InflateSink, Wrap } from "../../assembly/compress/inflate";

class Collect extends InflateSink {
  keep: bool = true;
  out: usize = 0;
  cap: i32 = 0;
  len: i32 = 0;
  count: i64 = 0;

  inflated(ptr: usize, len: i32): void {
    this.count += <i64>len;
    if (!this.keep) return;
    if (this.len + len > this.cap) {
      const cap = max(this.cap * 2, this.len + len + 65536);
      const grown = heap.alloc(<usize>cap);
      if (this.out != 0) {
        memory.copy(grown, this.out, <usize>this.len);
        heap.free(this.out);
      }
      this.out = grown;
      this.cap = cap;
    }
    memory.copy(this.out + <usize>this.len, ptr, <usize>len);
    this.len += len;
  }
}

const sink = new Collect();
let inflater: Inflater | null = null;
let input: usize = 0;
let inputCap: i32 = 0;

/** Where the caller may write n bytes of input. */
export function inputBuffer(n: i32): usize {
  if (n > inputCap) {
    if (input != 0) heap.free(input);
    input = heap.alloc(<usize>n);
    inputCap = n;
  }
  return input;
}

/** A fresh stream: wrap 0 gzip, 1 deflate (zlib or raw); keep 0 only counts the output. */
export function begin(wrap: i32, keep: i32): void {
  const old = inflater;
  if (old !== null) old.release();
  sink.keep = keep != 0;
  sink.len = 0;
  sink.count = 0;
  inflater = Inflater.acquire(<Wrap>wrap, sink);
}

export function feed(ptr: usize, len: i32): void {
  inflater!.feed(ptr, len);
}

/** 1 when the input was sound and complete, 0 when not. */
export function end(): i32 {
  return inflater!.finish() ? 1 : 0;
}

export function failed(): i32 {
  return inflater!.failed ? 1 : 0;
}

export function outputPtr(): usize {
  return sink.out;
}
export function outputLength(): i32 {
  return sink.len;
}
export function outputCount(): f64 {
  return <f64>sink.count;
}

// The build's `--use abort=abort_proc_exit` names the SDK's abort; here an abort is a plain trap,
// which the caller sees as a RuntimeError (and the tests count as a failure).
// @ts-ignore: decorator
@global
export function abort_proc_exit(_message: string | null, _fileName: string | null, _line: u32, _column: u32): void {
  unreachable();
}
