// Limits enforced where they are defined (issue 23): a shape path past the scanner's tables is
// refused when the trie is built, and on_configure then rejects the plugin (apis/registry.ts
// shapesError), instead of a write past MAX_FIELDS rows or a path deeper than TRACK that
// could never match. The trie is driven through a small module compiled from the real source.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { main as asc } from "assemblyscript/asc";
import { beforeAll, describe, expect, it } from "vitest";

const root = join(import.meta.dirname, "..");

interface Limits {
  maxFields(): number;
  track(): number;
  refused(segments: number, field: number): number;
}

let limits: Limits;

beforeAll(async () => {
  const out = join(mkdtempSync(join(tmpdir(), "limits-")), "limits.wasm");
  const { error, stderr } = await asc(
    ["tests/fixtures/limits/path-limits.ts", "--config", "tests/fixtures/limits/asconfig.json", "--outFile", out, "-O1"],
    {},
  );
  if (error) throw new Error(`build failed: ${stderr.toString()}`);
  const abort = () => {
    throw new Error("abort");
  };
  const { instance } = await WebAssembly.instantiate(readFileSync(out), { env: { abort } });
  limits = instance.exports as unknown as Limits;
}, 60_000);

describe("PathTrie.add limits (assembly/json/paths.ts)", () => {
  it("MAX_FIELDS is the Field enum's Count and TRACK is 8", () => {
    const fields = readFileSync(join(root, "assembly/apis/fields.ts"), "utf8");
    const members = [...fields.matchAll(/^\s+(\w+) = (\d+),/gm)].filter(([, name]) => name !== "Count");
    expect(limits.maxFields()).toBe(members.length);
    expect(Math.max(...members.map(([, , v]) => Number(v)))).toBe(limits.maxFields() - 1);
    expect(limits.track()).toBe(8);
  });

  it("takes a path of TRACK segments and the last field id", () => {
    expect(limits.refused(limits.track(), limits.maxFields() - 1)).toBe(0);
    expect(limits.refused(1, 0)).toBe(0);
  });

  it("refuses a path deeper than TRACK, leaving the trie unchanged", () => {
    expect(limits.refused(limits.track() + 1, 0)).toBe(1);
  });

  it("refuses a field id outside 0..MAX_FIELDS-1", () => {
    expect(limits.refused(2, limits.maxFields())).toBe(1);
    expect(limits.refused(2, -1)).toBe(1);
  });
});
