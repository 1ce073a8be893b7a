// The benchmark harness at CI size (bench/run.ts --quick): every workload runs, every baseline
// produces a number, and the filter and the json-as baseline extract the right model and usage.
// Structural and correctness checks only — no timing assertions.
import { describe, expect, it } from "vitest";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { runBench, missingNumbers, renderTables, parseBenchArgs, FILTERS, type BenchResults } from "../bench/run";
import { repoRoot } from "../repo/manifests";
import { buildWorkloads, QUICK_SIZES } from "../bench/workloads";

describe("npm run bench -- --quick", () => {
  let res: BenchResults;

  it("runs every workload against every baseline", async () => {
    res = await runBench({ quick: true, out: null, markdown: null, log: () => {} });
    const names = buildWorkloads(QUICK_SIZES).map((w) => w.name);
    expect(res.workloads.map((w) => w.name)).toEqual(names);
    for (const w of res.workloads) {
      expect(missingNumbers(w), w.name).toEqual([]);
      for (const f of FILTERS) expect(w.filters[f]!.memory.afterBytes, `${w.name}/${f}`).toBeGreaterThan(0);
    }
    // JSON.parse and memchr run on every LLM workload.
    for (const w of res.workloads.filter((w) => !["non-llm-get", "headers-only"].includes(w.name))) {
      expect(w.js, w.name).not.toBeNull();
      expect(w.js!.jsonParseCorrect, w.name).toBe(true);
      expect(w.rates, w.name).not.toBeNull();
    }
    expect(Object.keys(res.wasmBytes).sort()).toEqual(["bytescan.wasm", "jsonas.wasm", "llmproxy.wasm", "noop-sdklog.wasm", "noop.wasm"]);
    for (const n of Object.values(res.wasmBytes)) expect(n).toBeGreaterThan(1000);
    expect(res.sdkBookkeeping).not.toBeNull();
    expect(res.sdkBookkeeping!.restoredLogLines).toBeGreaterThan(0);
    expect(Number.isFinite(res.sdkBookkeeping!.unpatchedInWasmUs)).toBe(true);
  }, 180_000);

  it("checked what each filter extracted in each workload", () => {
    for (const w of res.workloads) {
      for (const f of FILTERS) {
        const r = w.filters[f]!;
        expect(r.problems, `${w.name}/${f}`).toEqual([]);
        expect(r.correct).toBe(true);
        expect(r.trapped).toBe(false);
      }
    }
    const small = res.workloads.find((w) => w.name === "small-json")!;
    expect(small.filters.llmproxy!.extracted).toMatchObject({
      request_model: "gpt-4o-mini",
      request_prompt_tokens: "213",
      request_completion_tokens: "87",
    });
    expect(small.filters.jsonas!.extracted).toMatchObject({
      request_model: "gpt-4o-mini",
      request_prompt_tokens: "213",
      request_completion_tokens: "87",
    });
    expect(small.filters.noop!.extracted).toEqual({});
    const ds = res.workloads.find((w) => w.name.startsWith("sse-dashscope"))!;
    expect(ds.filters.llmproxy!.extracted).toMatchObject({
      request_model: "qwen-turbo",
      request_completion_tokens: String(QUICK_SIZES.events),
    });
  });

  it("never traps our filter on malformed input, and records what json-as does", () => {
    expect(res.malformed.length).toBeGreaterThan(0);
    for (const m of res.malformed) {
      expect(m.llmproxy.trapped, m.case).toBe(false);
      expect(m.llmproxy.nextStreamOk, m.case).toBe(true);
      expect(typeof m.jsonas.trapped).toBe("boolean");
    }
  });

  it("measures the inflater against node:zlib and a gzip'd stream through the host, counted", () => {
    const inflate = res.inflate!;
    expect(inflate.corpora.length).toBeGreaterThan(0);
    for (const c of inflate.corpora) expect(Number.isFinite(c.oursMBps) && Number.isFinite(c.nodeMBps), c.name).toBe(true);
    expect(inflate.stream?.counted).toBe(true);
    expect(renderTables(res)).toContain("### Inflate (gzip / deflate responses)");
  });

  it("renders the report", () => {
    const text = renderTables(res);
    for (const w of res.workloads) expect(text).toContain(`| ${w.name} |`);
    expect(text).toContain("### Targets");
    // --quick's figures judge nothing: no verdicts, and it says so.
    expect(res.meta.quick).toBe(true);
    expect(text).toMatch(/Not judged: `--quick`/);
    expect(text).not.toMatch(/\*\*no\*\*|\| yes \|/);
    expect(renderTables({ ...res, meta: { ...res.meta, quick: false } })).toMatch(/\| target +\| measured/);
  });
});

describe("npm run bench's command line", () => {
  const tsx = join(repoRoot, "node_modules", ".bin", "tsx");
  const bench = (args: string[]) => spawnSync(tsx, [join(repoRoot, "bench", "run.ts"), ...args], { encoding: "utf8", timeout: 60_000 });

  it("--help prints the usage and exits 0 without building or running anything", () => {
    const r = bench(["--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^Usage: npm run bench -- \[options\]/);
    for (const flag of ["--quick", "--only", "--out", "--markdown", "--from-json", "--compare", "--envoy"])
      expect(r.stdout).toContain(flag);
    expect(r.stderr).not.toMatch(/build \[/);
  });

  it.each([
    [["--bogus"], /Unknown option '--bogus'/],
    [["quick"], /Unexpected argument 'quick'/],
    [["--only"], /argument missing/],
  ])("%j fails with one line, status 2", (args, message) => {
    const r = bench(args);
    expect(r.status).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(message);
    expect(parseBenchArgsThrows(args)).toBe(true);
  });
});

function parseBenchArgsThrows(args: string[]): boolean {
  try {
    parseBenchArgs(args);
    return false;
  } catch {
    return true;
  }
}
