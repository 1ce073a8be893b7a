// A host read that fails with anything but NotFound is taken as absent (the stream goes on) but
// counted in asm_llm_proxy_host_call_errors (assembly/envoy.ts answered), not silently dropped.
import { describe, expect, it } from "vitest";
import { sidecar } from "./helpers/sidecar";
import { observedChat } from "./helpers/calls";
import { WasmResult } from "../host";

describe("host-call statuses other than NotFound", () => {
  it("NotFound (node metadata absent) is not counted", async () => {
    const s = await sidecar({ nodeMetadataPaths: "legacy" }); // xds.node.metadata.* answers NotFound
    observedChat(s);
    expect(s.prometheus(/host_call_errors/)).toEqual([]);
    expect(s.prometheus(/prompt_tokens/).join("\n")).toMatch(/ 3$/m);
  });

  it("a property read answered SerializationFailure is counted, and the request is still measured", async () => {
    const s = await sidecar();
    s.vm.hostCallFaults.set("proxy_get_property", WasmResult.SerializationFailure);
    expect(s.vm.reload("")).toBe(true); // on_configure reads WORKLOAD_NAME, NAMESPACE and SERVICE_ACCOUNT: 3 keys x 2 paths
    s.vm.hostCallFaults.clear();
    observedChat(s);
    expect(s.prometheus(/host_call_errors/)).toEqual(["asm_llm_proxy_host_call_errors{} 6"]);
    expect(s.prometheus(/prompt_tokens/).join("\n")).toMatch(/llmproxy_source_workload="unknown".* 3$/m);
  });
});
