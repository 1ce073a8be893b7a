// Linear-memory access for the host. Views are cached and rebuilt only when memory.buffer
// changes (growth detaches the old ArrayBuffer), so every access re-reads memory.buffer and
// never touches a detached view, without allocating a view per call.

const dec = new TextDecoder();

export class WasmMemory {
  private buf: ArrayBuffer | null = null;
  private u8!: Uint8Array;
  private dv!: DataView;

  constructor(public readonly memory: WebAssembly.Memory) {}

  private refresh(): void {
    const b = this.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    }
  }

  get size(): number {
    return this.memory.buffer.byteLength;
  }

  /** A view of [ptr, ptr+size) or null when out of bounds (cpp-host getMemory → nullopt). The
   * view is only valid until the next call into the module. */
  view(ptr: number, size: number): Uint8Array | null {
    this.refresh();
    ptr >>>= 0;
    size >>>= 0;
    if (ptr + size > this.u8.length) return null;
    return this.u8.subarray(ptr, ptr + size);
  }

  /** A copy of [ptr, ptr+size) or null when out of bounds. */
  copy(ptr: number, size: number): Uint8Array | null {
    const v = this.view(ptr, size);
    return v ? v.slice() : null;
  }

  string(ptr: number, size: number): string | null {
    const v = this.view(ptr, size);
    return v ? dec.decode(v) : null;
  }

  setU32(ptr: number, value: number): boolean {
    this.refresh();
    ptr >>>= 0;
    if (ptr + 4 > this.u8.length) return false;
    this.dv.setUint32(ptr, value >>> 0, true);
    return true;
  }

  setU64(ptr: number, value: bigint): boolean {
    this.refresh();
    ptr >>>= 0;
    if (ptr + 8 > this.u8.length) return false;
    this.dv.setBigUint64(ptr, BigInt.asUintN(64, value), true);
    return true;
  }

  getU32(ptr: number): number | null {
    this.refresh();
    ptr >>>= 0;
    if (ptr + 4 > this.u8.length) return null;
    return this.dv.getUint32(ptr, true);
  }

  set(ptr: number, bytes: Uint8Array): boolean {
    this.refresh();
    ptr >>>= 0;
    if (ptr + bytes.length > this.u8.length) return false;
    this.u8.set(bytes, ptr);
    return true;
  }
}
