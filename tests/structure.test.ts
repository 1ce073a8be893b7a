// The filter's module graph (issue 12): no import cycles in assembly/, and one place per API
// shape: lifecycle code never names a shape.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, dirname, resolve, relative } from "node:path";
import { repoRoot } from "../repo/manifests";

const ROOT = join(repoRoot, "assembly");

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith(".ts") ? [p] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const out: string[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s[^;]*?from\s+"(\.[^"]+)"/gms)) out.push(resolve(dirname(file), m[1]) + ".ts");
  return out;
}

/** The first cycle found by depth-first search, as module paths, or undefined. */
function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, number>(); // 1 on stack, 2 done
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    state.set(n, 1);
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 1) return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 2);
    return undefined;
  };
  for (const n of graph.keys())
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  return undefined;
}

describe("assembly/ module graph", () => {
  const graph = new Map(files(ROOT).map((f) => [f, imports(f)]));

  it("has no import cycles", () => {
    const cycle = findCycle(graph);
    expect(cycle?.map((f) => relative(ROOT, f))).toBeUndefined();
  });

  it("the cycle finder finds a planted cycle (the check can fail)", () => {
    expect(
      findCycle(
        new Map([
          ["a", ["b"]],
          ["b", ["c"]],
          ["c", ["a"]],
        ]),
      ),
    ).toEqual(["a", "b", "c", "a"]);
  });

  it("lifecycle, sinks and configuration import no shape file: they read descriptors", () => {
    for (const f of ["filter.ts", "config.ts", "telemetry/publish.ts", "response.ts", "usage.ts"]) {
      const shapeFiles = (graph.get(join(ROOT, f)) ?? [])
        .map((i) => relative(ROOT, i))
        .filter((i) => i.startsWith("apis/") && !/^apis\/(shape|registry|fields)\.ts$/.test(i));
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
