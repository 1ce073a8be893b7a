// A host read that fails with anything but NotFound is taken as absent (the stream goes on) but
// counted in asm_llm_proxy_host_call_errors (assembly/envoy.ts answered), not silently dropped.
import { describe, expect, it } from "vitest";
import { sidecar } from "./helpers/sidecar";
import { openaiJson } from "./helpers/bodies";
import { WasmResult } from "../host";

const enc = new TextEncoder();

function chat(s: Awaited<ReturnType<typeof sidecar>>): void {
  const st = s.vm.newStream();
  st.sendRequestHeaders(
    [
      [":method", "POST"],
      [":path", "/v1/chat/completions"],
      [":authority", "api.openai.com"],
      ["content-type", "application/json"],
    ],
    false,
  );
  st.sendRequestBody(enc.encode('{"model":"gpt-4o-mini","messages":[]}'), true);
  st.sendResponseHeaders(
    [
      [":status", "200"],
      ["content-type", "application/json"],
    ],
    false,
  );
  st.sendResponseBody(enc.encode(openaiJson("gpt-4o-mini", { prompt: 3, completion: 4 })), true);
  st.finish();
}

describe("host-call statuses other than NotFound", () => {
  it("NotFound (node metadata absent) is not counted", async () => {
    const s = await sidecar({ nodeMetadataPaths: "legacy" }); // xds.node.metadata.* answers NotFound
    chat(s);
    expect(s.prometheus(/host_call_errors/)).toEqual([]);
    expect(s.prometheus(/prompt_tokens/).join("\n")).toMatch(/ 3$/m);
  });

  it("a property read answered SerializationFailure is counted, and the request is still measured", async () => {
    const s = await sidecar();
    s.vm.hostCallFaults.set("proxy_get_property", WasmResult.SerializationFailure);
    expect(s.vm.reload("")).toBe(true); // on_configure reads WORKLOAD_NAME, NAMESPACE and SERVICE_ACCOUNT: 3 keys x 2 paths
    s.vm.hostCallFaults.clear();
    chat(s);
    expect(s.prometheus(/host_call_errors/)).toEqual(["asm_llm_proxy_host_call_errors{} 6"]);
    expect(s.prometheus(/prompt_tokens/).join("\n")).toMatch(/llmproxy_source_workload="unknown".* 3$/m);
  });
});
