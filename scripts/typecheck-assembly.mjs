#!/usr/bin/env node
// Type-checks the filter's AssemblyScript (assembly/) with TypeScript, against AssemblyScript's
// own declarations (assembly/tsconfig.json extends assemblyscript/std/assembly.json, whose
// index.d.ts declares i32, u8, usize, load/store, unchecked, ...). The AssemblyScript compiler
// checks the same code again at build time; tsc adds what asc does not report (unused or
// duplicate imports, strict null and type checks in code asc never instantiates).
//
// Excluded, and only these: diagnostics located in the proxy-wasm SDK's own sources
// (node_modules/@solo-io/proxy-runtime/), which the filter imports and tsc therefore checks.
// They are the SDK's (fields of primitive type left to AssemblyScript's zero-initialisation,
// `__pin`/`__unpin` runtime builtins that index.d.ts does not declare, two callback variance
// mismatches) and not this project's to fix; their count is printed so a change is visible.
import { dirname, join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const SDK_DIR = join(root, "node_modules", "@solo-io", "proxy-runtime") + sep;

const configPath = join(root, "assembly", "tsconfig.json");
const parsed = ts.getParsedCommandLineOfConfigFile(
  configPath,
  { noEmit: true },
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  },
);
if (!parsed) throw new Error(`cannot read ${configPath}`);
const program = ts.createProgram({ rootNames: parsed.fileNames, options: parsed.options });
const all = ts.getPreEmitDiagnostics(program);

/** Whether a diagnostic lies in the SDK's own sources (see the header for why they are excluded). */
export function inSdk(diagnostic) {
  return diagnostic.file !== undefined && resolve(diagnostic.file.fileName).startsWith(SDK_DIR);
}

const own = all.filter((d) => !inSdk(d));
const host = {
  getCanonicalFileName: (f) => f,
  getCurrentDirectory: () => root,
  getNewLine: () => "\n",
};
if (own.length > 0) process.stderr.write(ts.formatDiagnostics(own, host));
console.error(
  `assembly/: ${own.length} error(s) in ${parsed.fileNames.length} files; ` +
    `${all.length - own.length} in the SDK (${relative(root, SDK_DIR)}) excluded`,
);
process.exitCode = own.length > 0 ? 1 : 0;
