// The Prometheus rules in rules/: `promtool check rules` accepts them and `promtool test rules`
// passes their unit tests (rules/tests/); a copy with a changed threshold or a renamed metric
// fails those tests, so they do pin the rules down.
// Without root / apt the tests are skipped loudly, except in CI (CI=true), where they fail.
import { spawnSync } from "node:child_process";
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../repo/manifests";
import { PROMTOOL, requirePrometheus } from "./helpers/prometheus";

const { available, install } = requirePrometheus();
const RULES_DIR = join(repoRoot, "rules");
const RULES = join(RULES_DIR, "asm-llm-proxy.rules.yaml");
const UNIT_TESTS = readdirSync(join(RULES_DIR, "tests")).filter((f) => f.endsWith(".test.yaml"));

function promtool(args: string[], cwd = repoRoot): { status: number | null; output: string } {
  const r = spawnSync(PROMTOOL, args, { cwd, encoding: "utf8", timeout: 60_000 });
  return { status: r.status, output: `${r.stdout ?? ""}${r.stderr ?? ""}` };
}

interface RuleFile {
  groups: { name: string; rules: { record?: string; alert?: string; expr: string }[] }[];
}

describe.skipIf(!available)(`Prometheus rules (${install.message.split("\n").at(-1)})`, () => {
  const dirs: string[] = [];
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  /** promtool test rules on a copy of rules/ whose rule file went through `edit`. */
  function testEdited(edit: (rules: string) => string): { status: number | null; output: string } {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-rules-"));
    dirs.push(dir);
    cpSync(RULES_DIR, dir, { recursive: true });
    const edited = edit(readFileSync(RULES, "utf8"));
    expect(edited).not.toBe(readFileSync(RULES, "utf8"));
    writeFileSync(join(dir, "asm-llm-proxy.rules.yaml"), edited);
    return promtool(["test", "rules", ...UNIT_TESTS.map((f) => join("tests", f))], dir);
  }

  it("promtool check rules accepts the rule file", () => {
    const r = promtool(["check", "rules", RULES]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS: 12 rules found");
  });

  it("has the recording rules (tokens per minute by model and workload) and the alerts", () => {
    const file = parseYaml(readFileSync(RULES, "utf8")) as RuleFile;
    const rules = file.groups.flatMap((g) => g.rules);
    expect(rules.filter((r) => r.record).map((r) => r.record)).toEqual([
      "asm_llm_proxy:prompt_tokens:increase1m",
      "asm_llm_proxy:completion_tokens:increase1m",
      "asm_llm_proxy:tokens:increase1m",
      "asm_llm_proxy:cost_budget_per_day:namespace",
      "asm_llm_proxy:cost_budget_per_day:workload",
      "asm_llm_proxy:cost:namespace:increase1d",
      "asm_llm_proxy:cost:workload:increase1d",
    ]);
    for (const r of rules.filter((r) => r.record?.endsWith("tokens:increase1m")))
      expect(r.expr, r.record).toMatch(/by \(llmproxy_model, llmproxy_source_workload_namespace, llmproxy_source_workload/);
    expect(rules.filter((r) => r.alert).map((r) => r.alert)).toEqual([
      "AsmLlmProxyUsageUnreadable",
      "AsmLlmProxyLabelsFolded",
      "AsmLlmProxyWasmFetchFailing",
      "AsmLlmProxyNamespaceOverBudget",
      "AsmLlmProxyWorkloadOverBudget",
    ]);
  });

  it("promtool test rules passes every unit test file", () => {
    expect(UNIT_TESTS.length).toBeGreaterThan(0);
    const r = promtool(["test", "rules", ...UNIT_TESTS.map((f) => join("rules", "tests", f))]);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toContain("SUCCESS");
  });

  it.each([
    ["a higher unreadable-usage threshold", (s: string) => s.replace("> 0.2", "> 0.5")],
    [
      "error_status counted as unreadable",
      (s: string) => s.replace('llmproxy_reason!~"error_status|provider_error"', 'llmproxy_reason!~"provider_error"'),
    ],
    [
      "a recording rule over a 5m window",
      (s: string) => s.replace("increase(asm_llm_proxy_prompt_tokens[1m])", "increase(asm_llm_proxy_prompt_tokens[5m])"),
    ],
    ["the fetch alert counting successes", (s: string) => s.replace('{result!="success"}', "")],
    ["a higher default namespace budget", (s: string) => s.replace("> 1000\n", "> 1500\n")],
    ["a namespace's own budget ignored", (s: string) => s.replace('"team-a", "", "")\n', '"team-b", "", "")\n')],
    [
      "cost over 12 h instead of a day",
      (s: string) => s.replace("increase(asm_llm_proxy_cost_micros[1d])) / 1e6\n", "increase(asm_llm_proxy_cost_micros[12h])) / 1e6\n"),
    ],
  ])("the unit tests fail on %s", (_, edit) => {
    const r = testEdited(edit);
    expect(r.status, r.output).toBe(1);
    expect(r.output).toContain("FAILED");
  });
});
