// Where the time of a proxy-wasm call goes: every export of the module and every host import it
// links is wrapped with a timer, and elapsed time is charged to whichever side is running —
// the module's code (one bin per export the host called: proxy_on_request_body, malloc...) or
// the host (one bin per import: proxy_get_buffer_bytes, proxy_get_header_map_value...).
// A call nested inside another (malloc from inside proxy_get_buffer_bytes) pauses its caller's
// clock. The host is not modified: WebAssembly.instantiate is intercepted while WasmVm.load runs.
import { WasmVm, type VmOptions } from "../host/abi/vm";

const now = () => performance.now();

export class Profile {
  readonly names: string[] = [];
  /** "wasm" or "host", per bin. */
  readonly side: ("wasm" | "host")[] = [];
  time: number[] = [];
  calls: number[] = [];
  /** Wall time inside outermost export calls (ms). */
  inclusive = 0;
  outerCalls = 0;
  private readonly ids = new Map<string, number>();
  private readonly stack: number[] = [];
  private last = 0;
  private outerStart = 0;

  bin(side: "wasm" | "host", name: string): number {
    const key = `${side}:${name}`;
    let id = this.ids.get(key);
    if (id === undefined) {
      id = this.names.length;
      this.ids.set(key, id);
      this.names.push(name);
      this.side.push(side);
      this.time.push(0);
      this.calls.push(0);
    }
    return id;
  }

  enter(bin: number): void {
    const t = now();
    const s = this.stack;
    if (s.length) this.time[s[s.length - 1]] += t - this.last;
    else this.outerStart = t;
    s.push(bin);
    this.calls[bin]++;
    this.last = t;
  }

  exit(): void {
    const t = now();
    const s = this.stack;
    this.time[s.pop()!] += t - this.last;
    this.last = t;
    if (!s.length) {
      this.inclusive += t - this.outerStart;
      this.outerCalls++;
    }
  }

  reset(): void {
    this.time = this.time.map(() => 0);
    this.calls = this.calls.map(() => 0);
    this.inclusive = 0;
    this.outerCalls = 0;
  }

  snapshot(): ProfileSnapshot {
    return {
      names: [...this.names],
      side: [...this.side],
      time: [...this.time],
      calls: [...this.calls],
      inclusive: this.inclusive,
      outerCalls: this.outerCalls,
    };
  }
}

export interface ProfileSnapshot {
  names: string[];
  side: ("wasm" | "host")[];
  time: number[];
  calls: number[];
  inclusive: number;
  outerCalls: number;
}

type AnyFn = (...args: unknown[]) => unknown;

export function wrap(fn: AnyFn, prof: Profile, bin: number): AnyFn {
  return (...args: unknown[]) => {
    prof.enter(bin);
    try {
      return fn(...args);
    } finally {
      prof.exit();
    }
  };
}

function wrapImports(imports: WebAssembly.Imports, prof: Profile): WebAssembly.Imports {
  const out: Record<string, Record<string, WebAssembly.ImportValue>> = {};
  for (const [mod, table] of Object.entries(imports)) {
    out[mod] = {};
    for (const [name, value] of Object.entries(table)) {
      out[mod][name] =
        typeof value === "function" ? (wrap(value as AnyFn, prof, prof.bin("host", name)) as WebAssembly.ImportValue) : value;
    }
  }
  return out;
}

function wrapExports(exports: WebAssembly.Exports, prof: Profile): WebAssembly.Exports {
  const out: Record<string, WebAssembly.ExportValue> = {};
  for (const [name, value] of Object.entries(exports)) {
    out[name] =
      typeof value === "function" ? (wrap(value as AnyFn, prof, prof.bin("wasm", name)) as unknown as WebAssembly.ExportValue) : value;
  }
  return out;
}

/** WasmVm.load with every export and import of the instance timed into `prof`. */
export async function loadInstrumented(opts: VmOptions, prof: Profile): Promise<WasmVm> {
  const wa = WebAssembly as unknown as { instantiate: (...a: unknown[]) => Promise<unknown> };
  const original = wa.instantiate;
  let intercepted = false;
  wa.instantiate = async (source: unknown, imports?: unknown) => {
    intercepted = true;
    const result = await original.call(WebAssembly, source, wrapImports((imports ?? {}) as WebAssembly.Imports, prof));
    if (result instanceof WebAssembly.Instance) return { exports: wrapExports(result.exports, prof) };
    const r = result as WebAssembly.WebAssemblyInstantiatedSource;
    return { module: r.module, instance: { exports: wrapExports(r.instance.exports, prof) } };
  };
  let vm: WasmVm;
  try {
    vm = await WasmVm.load(opts);
  } finally {
    wa.instantiate = original;
  }
  if (!intercepted) throw new Error("the host no longer instantiates through WebAssembly.instantiate: cannot instrument it");
  return vm;
}

// A module exporting f(i32, i32, i32) -> i32 that calls its import g(i32) -> i32: the shapes of a
// host → module callback and of a module → host import, for calibrating the wrappers' cost.
const CALIBRATION_WASM = new Uint8Array([
  0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
  // types: 0 = (i32) -> i32, 1 = (i32 i32 i32) -> i32
  0x01, 0x0d, 0x02, 0x60, 0x01, 0x7f, 0x01, 0x7f, 0x60, 0x03, 0x7f, 0x7f, 0x7f, 0x01, 0x7f,
  // import "env" "g" (type 0)
  0x02, 0x09, 0x01, 0x03, 0x65, 0x6e, 0x76, 0x01, 0x67, 0x00, 0x00,
  // function 1 has type 1
  0x03, 0x02, 0x01, 0x01,
  // export "f" = function 1
  0x07, 0x05, 0x01, 0x01, 0x66, 0x00, 0x01,
  // code: local.get 0; call 0; local.get 1; i32.add
  0x0a, 0x0b, 0x01, 0x09, 0x00, 0x20, 0x00, 0x10, 0x00, 0x20, 0x01, 0x6a, 0x0b,
]);

/** The cost (ms) one wrapped call adds: a real call into a module that calls back into the
 *  host, timed plain and with both sides wrapped (two wrapped calls), median of several runs. */
export function calibrate(): number {
  const module = new WebAssembly.Module(CALIBRATION_WASM);
  const g = (x: number) => x + 1;
  const plain = new WebAssembly.Instance(module, { env: { g } }).exports.f as (a: number, b: number, c: number) => number;
  const prof = new Profile();
  const wrappedInstance = new WebAssembly.Instance(module, {
    env: { g: wrap(g as AnyFn, prof, prof.bin("host", "g")) as (x: number) => number },
  });
  const wrapped = wrap(wrappedInstance.exports.f as AnyFn, prof, prof.bin("wasm", "f")) as (a: number, b: number, c: number) => number;
  let sink = 0;
  const n = 100_000;
  const runs: number[] = [];
  for (let r = 0; r < 9; r++) {
    let t = now();
    for (let i = 0; i < n; i++) sink += plain(i, 1, 2);
    const p = now() - t;
    t = now();
    for (let i = 0; i < n; i++) sink += wrapped(i, 1, 2);
    const w = now() - t;
    if (r >= 2) runs.push(Math.max(0, (w - p) / (2 * n)));
  }
  if (sink === -1) console.log(sink);
  runs.sort((a, b) => a - b);
  return runs[runs.length >> 1];
}

/** Per-bin times with the instrumentation's own cost taken out. Each wrapped call costs
 *  `overhead`, about half of it inside the callee's bin and half inside its caller's (outside
 *  any bin for the host's outermost calls). We do not know which bin made which nested call, so
 *  the callers' halves are spread over the calling side's bins by time share. */
export function corrected(p: ProfileSnapshot, overhead: number): CorrectedProfile {
  const half = overhead / 2;
  const count = (side: string) => p.names.reduce((n, _, i) => n + (p.side[i] === side ? p.calls[i] : 0), 0);
  const hostCalls = count("host");
  const nestedWasmCalls = count("wasm") - p.outerCalls; // malloc from inside an import
  const bins = p.names.map((name, i) => ({ name, side: p.side[i], ms: p.time[i], calls: p.calls[i] }));
  const sideTime = (side: string) => bins.filter((b) => b.side === side).reduce((n, b) => n + b.ms, 0);
  const wasmTime = sideTime("wasm"),
    hostTime = sideTime("host");
  for (const b of bins) {
    const own = half * b.calls;
    const asCaller =
      b.side === "wasm"
        ? wasmTime > 0
          ? half * hostCalls * (b.ms / wasmTime)
          : 0
        : hostTime > 0
          ? half * nestedWasmCalls * (b.ms / hostTime)
          : 0;
    b.ms = Math.max(0, b.ms - own - asCaller);
  }
  const wasm = sideTime("wasm"),
    host = sideTime("host");
  return { bins, wasm, host, total: wasm + host };
}

export interface CorrectedProfile {
  bins: { name: string; side: "wasm" | "host"; ms: number; calls: number }[];
  /** Time in the module's code (ms). */
  wasm: number;
  /** Time in host imports called by the module (ms). */
  host: number;
  total: number;
}
