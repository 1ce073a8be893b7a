// The tools' command lines go through node:util parseArgs (strict): an unknown option or a bad
// value is an error before any work, not an option silently ignored.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../repo/manifests";

const tsx = join(repoRoot, "node_modules", ".bin", "tsx");

function run(command: string, args: string[]) {
  return spawnSync(command, args, { cwd: repoRoot, encoding: "utf8", timeout: 60_000 });
}

describe("tool command lines", () => {
  it.each<[string, string[]]>([
    [tsx, ["bench/host-calls.ts", "--onyl", "sse"]],
    [tsx, ["bench/profile.ts", "--fitler", "noop"]],
    [tsx, ["bench/profile.ts", "--filter", "nosuch"]],
    [process.execPath, ["bench/module-size.mjs", "--top", "x"]],
    [process.execPath, ["bench/module-size.mjs", "--tpo", "3"]],
    [process.execPath, ["scripts/config-schema.mjs", "--chekc"]],
    [tsx, ["bench/run.ts", "--envoy", "--rounds", "0"]],
  ])("%#: %j fails with a message", (command, args) => {
    const r = run(command, args);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/Unknown option|--filter|--top|--rounds/);
  });
});
