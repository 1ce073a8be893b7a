// The filter's module graph (issue 12): no import cycles in assembly/, and one place per API
// shape: lifecycle code never names a shape.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { repoRoot } from "../repo/manifests";
// The same graph and cycle search `npm run check:cycles` runs over the whole project.
import { cycles, importGraph, sourceFiles } from "../scripts/check-cycles.mjs";

const ROOT = join(repoRoot, "assembly");

describe("assembly/ module graph", () => {
  const graph: Map<string, Set<string>> = importGraph(sourceFiles(ROOT));

  it("has no import cycles", () => {
    expect(cycles(graph).map((c: string[]) => c.map((f) => relative(ROOT, f)).sort())).toEqual([]);
  });

  it("the cycle search finds a planted cycle (the check can fail)", () => {
    const planted = new Map([
      ["a", new Set(["b"])],
      ["b", new Set(["c"])],
      ["c", new Set(["a"])],
      ["d", new Set(["a"])],
    ]);
    expect(cycles(planted).map((c: string[]) => [...c].sort())).toEqual([["a", "b", "c"]]);
  });

  it("lifecycle, sinks and configuration import no shape file: they read descriptors", () => {
    for (const f of ["filter.ts", "config.ts", "telemetry/publish.ts", "response.ts", "usage.ts"]) {
      const shapeFiles = [...(graph.get(join(ROOT, f)) ?? [])]
        .map((i) => relative(ROOT, i))
        .filter((i) => i.startsWith("apis/") && !/^apis\/(shape|registry|fields|billing)\.ts$/.test(i));
      expect([f, shapeFiles]).toEqual([f, []]);
    }
  });
});

describe("every registered API shape has its tests, generator, docs row and mock", () => {
  it("the registry's names (from the configuration error) = the reference model's shapes; each has a docs row, a generator and a mock path", async () => {
    const { configure } = await import("./helpers/sidecar");
    const { SHAPE_INFO } = await import("./helpers/reference");
    const { byApi } = await import("./helpers/gen");
    const { mockShape } = await import("../local/mock-llm");
    const fc = (await import("fast-check")).default;
    const r = await configure({ providers: [{ name: "x", hosts: ["x.example"], api: "?" }] });
    const listed = /expected one of ([a-z, -]+), got/.exec(r.logs.join("\n"))![1].split(", ");
    expect(listed.length).toBeGreaterThanOrEqual(8);
    expect([...listed].sort()).toEqual(Object.keys(SHAPE_INFO).sort());
    const doc = readFileSync(join(repoRoot, "docs", "api-shapes.md"), "utf8");
    const generated = new Set(
      Object.values(byApi).flatMap((arb) => (fc.sample(arb as never, { numRuns: 40, seed: 7 }) as { shape: string }[]).map((c) => c.shape)),
    );
    // a path the mock answers for each shape (openai and dashscope native are its original paths)
    const mockPaths: Record<string, string> = {
      responses: "/v1/responses",
      anthropic: "/v1/messages",
      gemini: "/v1beta/models/g:generateContent",
      "bedrock-converse": "/model/m/converse",
      "bedrock-invoke": "/model/m/invoke",
      "dashscope-apps": "/api/v1/apps/a/completion",
    };
    for (const name of listed) {
      expect([name, doc.includes(`| \`${name}\``)]).toEqual([name, true]);
      expect([name, generated.has(name)]).toEqual([name, true]);
      if (name !== "openai" && name !== "dashscope") expect([name, mockShape(mockPaths[name])?.shape]).toEqual([name, name]);
    }
  });
});
