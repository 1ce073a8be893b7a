// Shared helpers for the host tests: builds build/*.wasm if missing and compiles the probe
// filter (tests/fixtures/probe.ts) once per process.
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as asc } from "assemblyscript/asc";
import { WasmVm, type VmOptions } from "../host";

const root = join(import.meta.dirname, "..");

export function buildIfNeeded(): void {
  if (!existsSync(join(root, "build/noop.wasm")))
    execFileSync("node", [join(root, "scripts/build.mjs"), "--if-needed", "--for", "test"], { cwd: root, stdio: "inherit" });
}

export function noopWasm(): Uint8Array {
  buildIfNeeded();
  return readFileSync(join(root, "build/noop.wasm"));
}

let probeFile: Promise<string> | undefined;
/** The probe filter compiled to a file (once per process), for hosts that load a path (Envoy). */
export function probeWasmFile(): Promise<string> {
  probeFile ??= (async () => {
    const out = join(mkdtempSync(join(tmpdir(), "probe-")), "probe.wasm");
    const { error, stderr } = await asc(
      ["tests/fixtures/probe.ts", "--config", "asconfig.json", "--target", "release", "--outFile", out],
      {},
    );
    if (error) throw new Error(`probe build failed: ${stderr.toString()}`);
    return out;
  })();
  return probeFile;
}

let probe: WebAssembly.Module | undefined;
export async function probeModule(): Promise<WebAssembly.Module> {
  probe ??= await WebAssembly.compile(readFileSync(await probeWasmFile()));
  return probe;
}

/** A started probe VM running `script` (one "callback|actions" line per callback). */
export async function probeVm(script: string | string[], opts: Partial<VmOptions> = {}): Promise<WasmVm> {
  const vm = await WasmVm.load({
    wasm: await probeModule(),
    rootId: "probe",
    pluginConfig: Array.isArray(script) ? script.join("\n") : script,
    ...opts,
  });
  if (!vm.start()) throw new Error(`probe did not start: ${vm.lastTrap?.message} ${JSON.stringify(vm.logs)}`);
  return vm;
}

/** The probe's "P <cb> <action> -> <result> <value>" lines, as "<cb> <action> -> <result> <value>". */
export function probeLines(vm: WasmVm): string[] {
  return vm.logs.filter((l) => l.message.startsWith("P ")).map((l) => l.message.slice(2).trimEnd());
}

/** Result lines for one action (by callback and action text). */
export function results(vm: WasmVm, cb: string, action: string): string[] {
  const prefix = `${cb} ${action} -> `;
  return probeLines(vm)
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length));
}

/** Hook lines "H ..." logged by the probe on every callback. */
export function hooks(vm: WasmVm): string[] {
  return vm.logs.filter((l) => l.message.startsWith("H ")).map((l) => l.message.slice(2));
}

export const REQ: [string, string][] = [
  [":method", "POST"],
  [":path", "/v1/chat?x=1"],
  [":authority", "api.example.com"],
  [":scheme", "https"],
  ["content-type", "application/json"],
  ["x-a", "1"],
];
export const RESP: [string, string][] = [
  [":status", "200"],
  ["content-type", "application/json"],
];
