// The VM's linear memory as a gauge, so an operator (and tests/envoy-reload.test.ts) can see
// in real Envoy whether the module's memory keeps growing. memory.size() only grows (Wasm
// memory never shrinks), so the gauge is the high-water mark of the VM's heap. Set at the first
// LLM stream after each configuration (so once after each plugin reload) and on the root's tick; not in
// on_configure: Envoy (proxy-wasm-cpp-host's createWasm) configures every new plugin first on a
// throwaway clone of the VM, the "configuration canary", whose fresh memory would overwrite the
// worker VM's value. A canary sees no stream and lives for no tick. Not on every stream either
// (no extra host call on that path). One id per VM, defined on first use: a reload must
// not define the metric again (Envoy hands out a new id, and grows its map, on every define).
import * as imports from "@solo-io/proxy-runtime/assembly/imports";
import { defineMetric, recordHistogram, MetricType } from "../envoy";

export const VM_MEMORY_BYTES = "asm_llm_proxy_vm_memory_bytes";
/** How often the root context refreshes the gauge (proxy_set_tick_period_milliseconds). */
export const VM_MEMORY_TICK_MS: u32 = 10_000;

let gaugeId: i64 = -1;
/** Set by each on_configure: the next LLM stream refreshes the gauge (once per plugin reload). */
let due: bool = false;

/** After a (re)configuration: the next LLM call sets the gauge. */
export function vmMemoryDue(): void {
  due = true;
}

/** On an LLM call: the gauge, if a configuration happened since it was last set. Non-LLM
 *  requests never touch it (they cost the filter one header read and nothing else). */
export function publishVmMemoryIfDue(): void {
  if (!due) return;
  due = false;
  publishVmMemory();
}

/** Sets the gauge to the VM's linear memory in bytes (pages x 64 KiB). */
export function publishVmMemory(): void {
  if (gaugeId < 0) {
    gaugeId = defineMetric(MetricType.Gauge, VM_MEMORY_BYTES);
    if (gaugeId < 0) return;
  }
  // proxy_record_metric sets a gauge's value (it records a histogram sample).
  recordHistogram(<u32>gaugeId, <i64>memory.size() << 16);
}

/** Asks for the root's tick (the SDK's set_tick_period_milliseconds traps on a refusal; a
 * refused tick only leaves the gauge at its on_configure value). */
export function tickVmMemory(): void {
  imports.proxy_set_tick_period_milliseconds(VM_MEMORY_TICK_MS);
}
