// The no-op filter built against the SDK's original per-stream bookkeeping: a copy of the
// (patched) proxy-runtime in build/bench-sdk/ with the debug log lines of runtime.ts that our
// patch removed put back — each built its message (`context_map.keys().join(", ")` among them)
// and crossed into the host on every stream, whatever the log level. Everything else (the
// AssemblyScript 0.28 fixes the SDK needs to compile at all) stays patched, so the difference
// between build/noop.wasm and this one is exactly the logging the patch took out.
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const SDK = join(root, "node_modules/@solo-io/proxy-runtime");
const PATCH = join(root, "patches/@solo-io+proxy-runtime+0.1.8.patch");
const NOOP = join(root, "bench/baselines/noop.ts");
const DIR = join(root, "build/bench-sdk");
export const SDKLOG_WASM = join(root, "build/noop-sdklog.wasm");

/** The runtime.ts hunks of the patch, reversed for their removed debug-log lines only: returns
 *  [patched text, text with the log lines restored] pairs to substitute. */
function logRestorations(patch: string): [string, string][] {
  const files = patch.split(/^diff --git /m);
  const runtime = files.find((f) => f.startsWith("a/node_modules/@solo-io/proxy-runtime/assembly/runtime.ts"));
  if (!runtime) throw new Error("patch has no runtime.ts section");
  const hunks = runtime.split(/^@@[^\n]*\n/m).slice(1);
  const out: [string, string][] = [];
  for (const hunk of hunks) {
    const lines = hunk.replace(/\n$/, "").split("\n");
    const now: string[] = [];
    const restored: string[] = [];
    let touched = false;
    for (const line of lines) {
      const tag = line[0],
        text = line.slice(1);
      if (tag === " " || tag === "+") {
        now.push(text);
        restored.push(text);
      } else if (tag === "-" && /^\s*log\(LogLevelValues\.debug,/.test(text)) {
        restored.push(text);
        touched = true;
      }
      // other removed lines (the compile fixes) stay removed
    }
    if (touched) out.push([now.join("\n"), restored.join("\n")]);
  }
  return out;
}

/** Builds (when missing or stale) and returns the path of the no-op filter with SDK logging. */
export async function buildSdkLogNoop(): Promise<string> {
  const inputs = [join(SDK, "assembly/runtime.ts"), PATCH, NOOP, join(root, "asconfig.json")];
  if (existsSync(SDKLOG_WASM) && inputs.every((p) => statSync(p).mtimeMs < statSync(SDKLOG_WASM).mtimeMs)) return SDKLOG_WASM;
  rmSync(DIR, { recursive: true, force: true });
  const sdkCopy = join(DIR, "node_modules/@solo-io/proxy-runtime");
  mkdirSync(dirname(sdkCopy), { recursive: true });
  cpSync(SDK, sdkCopy, { recursive: true });
  const runtimePath = join(sdkCopy, "assembly/runtime.ts");
  let text = readFileSync(runtimePath, "utf8");
  let restored = 0;
  for (const [now, before] of logRestorations(readFileSync(PATCH, "utf8"))) {
    if (!text.includes(now)) continue; // a hunk whose context moved: skip it, count what took
    text = text.replace(now, before);
    restored += before.split("\n").length - now.split("\n").length;
  }
  if (restored === 0) throw new Error("no SDK debug-log line could be restored");
  writeFileSync(runtimePath, text);
  writeFileSync(join(DIR, "noop.ts"), readFileSync(NOOP, "utf8"));
  writeFileSync(join(DIR, "asconfig.json"), readFileSync(join(root, "asconfig.json"), "utf8"));
  // asc resolves packages from its base directory's node_modules, not the entry's: build there.
  // A plain node child: loading the compiler through tsx's loader is several times slower.
  const r = spawnSync(
    process.execPath,
    [
      join(root, "node_modules/assemblyscript/bin/asc.js"),
      "noop.ts",
      "--baseDir",
      DIR,
      "--config",
      "asconfig.json",
      "--target",
      "release",
      "--runtime",
      "incremental",
      "--shrinkLevel",
      "0",
      "--outFile",
      "../noop-sdklog.wasm",
    ],
    { encoding: "utf8" },
  );
  if (r.status !== 0) throw new Error(`building the SDK-logging no-op failed:\n${r.stderr}`);
  writeFileSync(join(DIR, "restored-lines.txt"), String(restored));
  return SDKLOG_WASM;
}

export function restoredLineCount(): number {
  const p = join(DIR, "restored-lines.txt");
  return existsSync(p) ? Number(readFileSync(p, "utf8")) : 0;
}
