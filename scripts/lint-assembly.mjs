#!/usr/bin/env node
// Lints the filter's AssemblyScript (assembly/) with Biome, the same linter and rules as the rest
// of the repository plus the `overrides` entry for assembly/** in biome.json (the rules that do
// not fit AssemblyScript, with the reason next to each).
//
// Why a wrapper and not `biome lint assembly`: AssemblyScript puts decorators on top-level
// functions (`@inline`, `@external(...)`), which TypeScript's grammar - and so Biome's parser -
// rejects ("Decorators are not valid here"). Biome still lints such a file but also reports the
// parse error, with no option to allow it. So this script copies assembly/ to a temporary
// directory with each top-level decorator line blanked (same line count, so every position
// reported is the position in the real file), and runs Biome there with the repository's
// biome.json. The formatter stays off for assembly/: its hand layout predates Biome here.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const biome = join(root, "node_modules", ".bin", "biome");

/** A decorator line at column 0: only AssemblyScript's top-level decorators start a line there. */
export const TOP_LEVEL_DECORATOR = /^@[A-Za-z_]\w*(\(.*\))?[ \t]*$/;

/** The text Biome sees: top-level decorator lines replaced by spaces of the same length. */
export function maskDecorators(text) {
  return text
    .split("\n")
    .map((line) => (TOP_LEVEL_DECORATOR.test(line) ? " ".repeat(line.length) : line))
    .join("\n");
}

function copyMasked(from, to) {
  mkdirSync(to, { recursive: true });
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    if (statSync(src).isDirectory()) copyMasked(src, join(to, name));
    else if (name.endsWith(".ts")) writeFileSync(join(to, name), maskDecorators(readFileSync(src, "utf8")));
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const work = mkdtempSync(join(tmpdir(), "lint-assembly-"));
  try {
    copyMasked(join(root, "assembly"), join(work, "assembly"));
    const config = JSON.parse(readFileSync(join(root, "biome.json"), "utf8"));
    delete config.$schema;
    config.files.includes = ["assembly/**"];
    writeFileSync(join(work, "biome.json"), JSON.stringify(config, null, 2));
    const run = spawnSync(biome, ["lint", "--max-diagnostics=none", ...process.argv.slice(2), "assembly"], {
      cwd: work,
      encoding: "utf8",
    });
    // Paths are printed relative to the work directory, i.e. exactly as in the repository.
    process.stdout.write(run.stdout.replaceAll(work, root));
    process.stderr.write(run.stderr.replaceAll(work, root));
    if (run.error) throw run.error;
    process.exitCode = run.status ?? 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
