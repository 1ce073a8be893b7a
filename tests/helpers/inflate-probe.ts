// The inflater alone (build/inflate-probe.wasm, from bench/baselines/inflate-probe.ts), for the
// inflater's tests against node:zlib and the bench.
import { readFileSync } from "node:fs";
import { join } from "node:path";

export const enum Wrap {
  Gzip = 0,
  Deflate = 1,
}

interface ProbeExports {
  memory: WebAssembly.Memory;
  inputBuffer(n: number): number;
  begin(wrap: number, keep: number): void;
  feed(ptr: number, len: number): void;
  end(): number;
  failed(): number;
  outputPtr(): number;
  outputLength(): number;
  outputCount(): number;
}

export interface InflateResult {
  ok: boolean;
  output: Buffer;
}

export class InflateProbe {
  private constructor(private x: ProbeExports) {}

  static async load(root = join(import.meta.dirname, "..", "..")): Promise<InflateProbe> {
    const module = await WebAssembly.compile(readFileSync(join(root, "build/inflate-probe.wasm")));
    // Whatever the module imports traps: the probe needs no host.
    const imports: WebAssembly.Imports = {};
    for (const i of WebAssembly.Module.imports(module)) {
      imports[i.module] ??= {};
      (imports[i.module] as Record<string, unknown>)[i.name] = () => {
        throw new Error(`probe called ${i.module}.${i.name}`);
      };
    }
    const instance = await WebAssembly.instantiate(module, imports);
    const x = instance.exports as unknown as ProbeExports & { _initialize?: () => void };
    x._initialize?.();
    return new InflateProbe(x);
  }

  /** Inflates `input` handed over in the given chunk sizes (the rest in one last chunk). */
  inflate(wrap: Wrap, input: Uint8Array, splits: number[] = [], keep = true): InflateResult {
    const x = this.x;
    x.begin(wrap, keep ? 1 : 0);
    let at = 0;
    const sizes = [...splits, input.length];
    for (const size of sizes) {
      const n = Math.min(size, input.length - at);
      if (n <= 0) continue;
      const ptr = x.inputBuffer(n);
      new Uint8Array(x.memory.buffer, ptr, n).set(input.subarray(at, at + n));
      x.feed(ptr, n);
      at += n;
      if (at >= input.length) break;
    }
    const ok = x.end() === 1;
    const output = keep ? Buffer.from(new Uint8Array(x.memory.buffer, x.outputPtr(), x.outputLength())) : Buffer.alloc(0);
    return { ok, output };
  }

  /** Bytes inflated by the last stream (also when not kept). */
  get inflatedBytes(): number {
    return this.x.outputCount();
  }
}
