// The host's model of Istio's stats filter: namespace, tag order, added dimensions, CEL subset.
import { describe, expect, it } from "vitest";
import { IstioStats, StatsStore, compileCel, prometheusText } from "../host";
import type { AccessLogContext } from "../host";

function ctx(state: Record<string, string>, code = 200): AccessLogContext {
  return {
    startTimeNs: 0n,
    endTimeNs: 1n,
    requestHeaders: [[":authority", "api.example.com"]],
    responseHeaders: [],
    responseCode: code,
    bytesReceived: 0,
    bytesSent: 0,
    filterState: new Map(Object.entries(state).map(([k, v]) => [k, { value: Buffer.from(v) }])),
  };
}

describe("Istio stats model", () => {
  it("renders istio_requests_total without the envoy_ prefix, dimensions appended sorted, counts add up", () => {
    const store = new StatsStore();
    const istio = new IstioStats(store, { workloadName: "w", namespace: "ns" }, { zeta: "'z'", model: "filter_state['wasm.m']" });
    istio.log(ctx({ "wasm.m": "qwen" }));
    istio.log(ctx({ "wasm.m": "qwen" }));
    const line = prometheusText(store.snapshot())
      .split("\n")
      .find((l) => l.startsWith("istio_requests_total{"))!;
    expect(line).toMatch(/^istio_requests_total\{reporter="source",source_workload="w",/);
    expect(line).toMatch(/,destination_service="api\.example\.com",/);
    expect(line).toMatch(/,connection_security_policy="unknown",model="qwen",zeta="z"\} 2$/);
  });
  it("a filter_state key that is not set gives 'unknown'", () => {
    const store = new StatsStore();
    new IstioStats(store, { workloadName: "w", namespace: "ns" }, { model: 'filter_state["wasm.m"]' }).log(ctx({}, 503));
    expect(prometheusText(store.snapshot())).toMatch(/response_code="503",.*model="unknown"\} 1\n/);
  });
  it("refuses a filter_state value that is not valid UTF-8 (Istio would put the raw bytes in the label)", () => {
    const store = new StatsStore();
    const istio = new IstioStats(store, { workloadName: "w", namespace: "ns" }, { model: "filter_state['wasm.m']" });
    const c = ctx({});
    c.filterState.set("wasm.m", { value: Buffer.from([0x61, 0xed, 0xa0, 0x80]) }); // "a" + a lone surrogate
    expect(() => istio.log(c)).toThrow(/not valid UTF-8/);
  });
  it("refuses CEL it does not understand instead of guessing", () => {
    expect(() => compileCel("request.headers['x-model']")).toThrow(/not supported/);
    expect(() => compileCel("filter_state['a'] + 'b'")).toThrow(/not supported/);
  });
});
