// `npm run bench -- --envoy --quick` end to end: every (workload, variant) cell gets requests
// through real Envoy with no error, and a CPU time and latencies to report. Numbers are not
// judged here (benchmarks print ratios; tests never time anything).
import { describe, expect, it } from "vitest";
import { parseWrk, renderEnvoyBench, runEnvoyBench } from "../bench/envoy";

describe("the Envoy benchmark (quick)", () => {
  // The smoke run once failed on p50 = NaN: a bare /50%/ matched "95.50%" in the thread stats.
  it("reads wrk's latency distribution, not its thread stats", () => {
    const out = [
      "Running 1s test @ http://127.0.0.1:1/",
      "  1 threads and 2 connections",
      "  Thread Stats   Avg      Stdev     Max   +/- Stdev",
      "    Latency     3.43ms    2.10ms  20.00ms   95.50%",
      "    Req/Sec   500.00     40.00   600.00     70.00%",
      "  Latency Distribution",
      "     50%    3.10ms",
      "     75%    4.00ms",
      "     90%    5.00ms",
      "     99%    1.20s",
      "  447 requests in 1.00s, 10.00KB read",
      "  Non-2xx or 3xx responses: 2",
    ].join("\n");
    expect(parseWrk(out)).toEqual({ requests: 447, errors: 2, p50Ms: 3.1, p99Ms: 1200 });
  });

  it("measures every workload in every variant", async () => {
    const r = await runEnvoyBench({ quick: true });
    expect(new Set(r.rows.map((x) => x.variant))).toEqual(new Set(["no filter", "no-op filter", "observe-only", "seed routing"]));
    expect(new Set(r.rows.map((x) => x.workload)).size).toBe(7);
    expect(r.rows.some((x) => x.workload.endsWith("events, gzip"))).toBe(true);
    expect(r.rows.some((x) => x.workload.endsWith("one per write"))).toBe(true);
    for (const row of r.rows) {
      expect(row.requests, `${row.workload} / ${row.variant}`).toBeGreaterThan(0);
      expect(row.errors, `${row.workload} / ${row.variant}`).toBe(0);
      expect(Number.isFinite(row.cpuUsPerRequest) && Number.isFinite(row.p50Ms) && Number.isFinite(row.p99Ms)).toBe(true);
    }
    expect(Object.keys(r.startupMs)).toHaveLength(4);
    expect(renderEnvoyBench(r)).toContain("| small chat (JSON) | observe-only |");
  }, 180_000);
});
