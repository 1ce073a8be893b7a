// Facts the docs state that the code knows, checked against the code: a page that drifts fails
// here rather than in a new user's first hour.
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { banner, envoyRuntime, SEED_METRICS_GREP } from "../local/banner";
import { startEnvoySidecar, type EnvoySidecar } from "../local/envoy-sidecar";
import { ENVOY_VERSIONS } from "../envoy/versions";
import { repoRoot } from "../repo/manifests";
import { hasCurl, seedCurl } from "./helpers/local";
import { configure } from "./helpers/sidecar";

const read = (file: string) => readFileSync(join(repoRoot, file), "utf8");
const oneLine = (s: string) => s.replace(/\s+/g, " ").trim();

/** The fenced block right after the line containing `marker`. */
function blockAfter(text: string, marker: string): string {
  const at = text.indexOf(marker);
  expect(at, marker).toBeGreaterThanOrEqual(0);
  const m = /```[a-z]*\n([\s\S]*?)```/.exec(text.slice(at));
  return m![1];
}

/** The shape registry read from its sources: [name, path rules in words] in registry order. */
function registryShapes(): [string, string][] {
  const dir = join(repoRoot, "assembly", "apis");
  const order = /SHAPES: ApiShape\[\] = \[([^\]]*)\]/
    .exec(readFileSync(join(dir, "registry.ts"), "utf8"))![1]
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  const sources = readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .map((f) => readFileSync(join(dir, f), "utf8"));
  return order.map((ident) => {
    const start = new RegExp(`export const ${ident} = [^\\n]*new ApiShape\\(`);
    const src = sources.find((s) => start.test(s))!;
    const body = src.slice(src.search(start)).split(/\n\s*\n|;\n/)[0];
    const name = /new ApiShape\("([^"]+)"\)/.exec(body)![1];
    const rules: string[] = [];
    for (const m of body.matchAll(
      /\.path\(MatchKind\.(\w+), "([^"]+)"\)|\.pathBoth\(new StringMatch\(MatchKind\.(\w+), "([^"]+)"\), new StringMatch\(MatchKind\.(\w+), "([^"]+)"\)\)/g,
    )) {
      if (m[1]) rules.push(`${m[1].toLowerCase()} \`${m[2]}\``);
      else rules.push(`${m[3].toLowerCase()} \`${m[4]}\` and ${m[5].toLowerCase()} \`${m[6]}\``);
    }
    return [name, rules.join(", ")];
  });
}

describe("docs/configuration.md", () => {
  const doc = read("docs/configuration.md");

  it("lists every `api` value the filter accepts, in the registry's order", async () => {
    const r = await configure({ providers: [{ name: "x", hosts: ["x.example"], api: "?" }] });
    const accepted = /expected one of ([a-z, -]+), got/.exec(r.logs.join("\n"))![1].split(", ");
    expect(accepted).toEqual(registryShapes().map(([name]) => name));
    const row = doc.split("\n").find((l) => l.startsWith("| `providers[].api`"))!;
    const listed = [...row.split(/(?<!\\)\|/)[2].matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
    expect(listed).toEqual(accepted);
  });

  it("states the default API paths of every shape, in order", () => {
    // "suffix `/a`, `/b` (openai)": rules of one kind share the word.
    const expected = registryShapes()
      .map(([name, rules]) => `${rules.replace(/(\w+) (`[^`]+`), \1 /g, "$1 $2, ").replace(/, suffix `/g, ", `")} (${name})`)
      .join("; ");
    const para = oneLine(doc.slice(doc.indexOf("Default `apiPaths`"), doc.indexOf("Which\nprovider URLs")));
    expect(para).toContain(oneLine(expected));
  });

  it("documents routes[].name, which its own example uses", () => {
    expect(doc).toMatch(/^\| `routes\[\]\.name` /m);
    expect(doc).toContain("- name: subscriber");
  });
});

describe("docs/local-sidecar.md", () => {
  it("shows the startup banner npm start prints (Envoy, default ports)", () => {
    const shown = blockAfter(read("docs/local-sidecar.md"), "Then it prints where it listens");
    const mock = /embedded mock LLM at (http:\/\/127\.0\.0\.1:\d+)/.exec(shown)![1];
    const printed = banner(
      {
        runtime: envoyRuntime(ENVOY_VERSIONS.newest, "build/llmproxy.wasm"),
        proxyUrl: "http://127.0.0.1:10000",
        adminUrl: "http://127.0.0.1:15090",
        mockUrl: mock,
        mockKey: "sk-local-mock",
        upstream: new URL(mock),
        workload: "sleep",
        namespace: "default",
        close: async () => {},
      },
      "manifests/wasmplugin.yaml",
    );
    expect(shown).toBe(printed.replace(/\n$/, "\n").replace(/\n\n$/, "\n"));
  });
});

describe("docs/development.md", () => {
  it("names CI's steps as .ci/run runs them", () => {
    const steps = read(".ci/run")
      .split("\n")
      .map((l) => /^npm (ci|test|run ([\w:]+))/.exec(l.trim()))
      .filter((m) => m !== null)
      .map((m) => m![2] ?? (m![1] === "ci" ? "npm ci" : "npm test"));
    expect(steps).toEqual(["npm ci", "typecheck", "lint", "format:check", "check:cycles", "npm test"]);
    const doc = oneLine(read("docs/development.md"));
    const sentence = doc.slice(doc.indexOf("`.ci/run` is what CI runs"), doc.indexOf("(minutes)"));
    const named = [...sentence.matchAll(/`([^`]+)`/g)].map((m) => m[1]).filter((w) => w !== ".ci/run");
    expect(named).toEqual(steps);
  });
});

describe.skipIf(!hasCurl())("README: the metrics command prints what the README shows", () => {
  let s: EnvoySidecar;
  beforeAll(async () => {
    s = await startEnvoySidecar({ port: 0, adminPort: 0 });
  }, 90_000);
  afterAll(async () => {
    await s?.close();
  });

  it("the seed's two requests, then the README's command: exactly its four lines", async () => {
    const readme = read("README.md");
    const command = /^curl -s http:\/\/127\.0\.0\.1:15090\/stats\/prometheus \| (.*)$/m.exec(readme)!;
    expect(command[1]).toBe(SEED_METRICS_GREP); // the banner suggests the same command
    const shown = /```\n```\n([\s\S]*?)```/.exec(readme.slice(command.index))![1].trim();
    expect((await seedCurl(s.proxyUrl, false)).status).toBe(200);
    expect((await seedCurl(s.proxyUrl, true)).status).toBe(200);
    const out = execFileSync("sh", ["-c", command[0].replace("http://127.0.0.1:15090", s.adminUrl)], { encoding: "utf8" });
    expect(out.trim()).toBe(shown);
    expect(shown.split("\n")).toHaveLength(4);
  });
});
