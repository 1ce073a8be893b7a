// The filter's module graph (issue 12): no import cycles in assembly/, and one place per API
// shape: lifecycle code never names a shape.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync } from "node:fs";
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
    const listed = /expected one of ([a-z0-9, -]+), got/.exec(r.logs.join("\n"))![1].split(", ");
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
      cohere: "/v2/chat",
      ollama: "/api/chat",
      tgi: "/generate_stream",
      "vertex-anthropic": "/v1/projects/p/locations/l/publishers/anthropic/models/claude-sonnet-4@20250514:rawPredict",
      "gemini-embed": "/v1beta/models/gemini-embedding-001:embedContent",
      "openai-images": "/v1/images/generations",
      "openai-audio": "/v1/audio/transcriptions",
    };
    for (const name of listed) {
      expect([name, doc.includes(`| \`${name}\``)]).toEqual([name, true]);
      expect([name, generated.has(name)]).toEqual([name, true]);
      if (name !== "openai" && name !== "dashscope") expect([name, mockShape(mockPaths[name])?.shape]).toEqual([name, name]);
    }
  });

  it("every registered shape has recorded exchanges in tests/testdata/<shape>/ or a README.md saying why none", async () => {
    const { configure } = await import("./helpers/sidecar");
    const { TESTDATA, recordedShapes } = await import("./helpers/recorded");
    const r = await configure({ providers: [{ name: "x", hosts: ["x.example"], api: "?" }] });
    const listed = /expected one of ([a-z0-9, -]+), got/.exec(r.logs.join("\n"))![1].split(", ");
    const dirs = recordedShapes();
    for (const name of listed) {
      const files = dirs.includes(name) ? readdirSync(join(TESTDATA, name)) : [];
      const cases = files.filter((f) => f.endsWith(".exchange.json"));
      const reason = files.includes("README.md") && readFileSync(join(TESTDATA, name, "README.md"), "utf8").trim().length > 80;
      expect([name, cases.length > 0 || reason]).toEqual([name, true]);
      // every exchange has its expected values, and names its source
      for (const f of cases) {
        expect([name, f, files.includes(f.replace(".exchange.json", ".expected.json"))]).toEqual([name, f, true]);
        const src = JSON.parse(readFileSync(join(TESTDATA, name, f), "utf8")).source;
        expect([f, Boolean((src.repository || src.url) && src.path && (src.commit || src.date) && src.licence)]).toEqual([f, true]);
      }
    }
    // no directory for a shape that is not registered (a renamed shape leaves none behind)
    expect(dirs.filter((d) => !listed.includes(d))).toEqual([]);
  });
});
