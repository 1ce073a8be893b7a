// `npm run bench -- --envoy --quick` end to end: every (workload, variant) cell gets requests
// through real Envoy with no error, and a CPU time and latencies to report. Numbers are not
// judged here (benchmarks print ratios; tests never time anything).
import { describe, expect, it } from "vitest";
import { renderEnvoyBench, runEnvoyBench } from "../bench/envoy";

describe("the Envoy benchmark (quick)", () => {
  it("measures every workload in every variant", async () => {
    const r = await runEnvoyBench({ quick: true });
    expect(new Set(r.rows.map((x) => x.variant))).toEqual(new Set(["no filter", "no-op filter", "observe-only", "seed routing"]));
    expect(new Set(r.rows.map((x) => x.workload)).size).toBe(5);
    for (const row of r.rows) {
      expect(row.requests, `${row.workload} / ${row.variant}`).toBeGreaterThan(0);
      expect(row.errors, `${row.workload} / ${row.variant}`).toBe(0);
      expect(Number.isFinite(row.cpuUsPerRequest) && Number.isFinite(row.p50Ms) && Number.isFinite(row.p99Ms)).toBe(true);
    }
    expect(Object.keys(r.startupMs)).toHaveLength(4);
    expect(renderEnvoyBench(r)).toContain("| small chat (JSON) | observe-only |");
  }, 180_000);
});
