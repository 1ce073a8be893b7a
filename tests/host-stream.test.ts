import { beforeAll, describe, expect, it } from "vitest";
import { NOT_CALLED, WasmResult, runExchange } from "../host";
import { probeModule, probeVm, results, hooks, REQ } from "./host-fixtures";

const R = WasmResult;
const txt = (b: Uint8Array) => Buffer.from(b).toString();

beforeAll(async () => {
  await probeModule();
});

describe("request header lifecycle (Context::decodeHeaders, getConstMap)", () => {
  it("the request header map is released when on_request_headers continues, readable again in on_log", async () => {
    const vm = await probeVm([
      "request_headers|hget:rh:x-a",
      "request_body|hget:rh:x-a hpairs:rh prop:request/headers/x-a prop:request/host",
      "log|hget:rh:x-a prop:request/headers/x-a prop:request/host",
    ]);
    runExchange(vm, { request: { authority: "api.example.com", headers: [["x-a", "1"]], body: "b" }, response: { status: 200 } });
    expect(results(vm, "request_headers", "hget:rh:x-a")).toEqual(["0 1"]);
    expect(results(vm, "request_body", "hget:rh:x-a")).toEqual([`${R.BadArgument}`]);
    expect(results(vm, "request_body", "hpairs:rh")).toEqual(["0 0x"]);
    expect(results(vm, "request_body", "prop:request/headers/x-a")).toEqual([`${R.NotFound}`]);
    expect(results(vm, "request_body", "prop:request/host")).toEqual([`${R.NotFound}`]);
    expect(results(vm, "log", "hget:rh:x-a")).toEqual(["0 1"]);
    expect(results(vm, "log", "prop:request/headers/x-a")).toEqual(["0 1"]);
    expect(results(vm, "log", "prop:request/host")).toEqual(["0 api.example.com"]);
  });

  it("a missing request header is NotFound (ABI 0.2.x)", async () => {
    const vm = await probeVm(["request_headers|hget:rh:x-missing"]);
    vm.newStream().sendRequestHeaders(REQ, true);
    expect(results(vm, "request_headers", "hget:rh:x-missing")).toEqual([`${R.NotFound}`]);
  });

  it("touching the response header map during the request phase is BadArgument", async () => {
    const vm = await probeVm(["request_headers|hget:sh:content-type hadd:sh:x:y hrep:sh:x:y hdel:sh:x hsize:sh hset:sh:a=b hpairs:sh"]);
    vm.newStream().sendRequestHeaders(REQ, true);
    for (const a of ["hget:sh:content-type", "hadd:sh:x:y", "hrep:sh:x:y", "hdel:sh:x", "hsize:sh", "hset:sh:a=b"]) {
      expect(results(vm, "request_headers", a)).toEqual([`${R.BadArgument}`]);
    }
    expect(results(vm, "request_headers", "hpairs:sh")).toEqual(["0 0x"]); // headerMapToPairs(nullptr): Ok, empty
  });

  it("header mutations reach the upstream only before the headers are released", async () => {
    const vm = await probeVm([
      "request_headers|hrep:rh:x-a:2 hadd:rh:x-b:3 hadd:rh:x-b:4 hdel:rh:content-type",
      "request_body|hadd:rh:x-late:1",
    ]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("x", true);
    expect(results(vm, "request_body", "hadd:rh:x-late:1")).toEqual([`${R.BadArgument}`]);
    expect(s.upstream.headers).toEqual([
      [":method", "POST"],
      [":path", "/v1/chat?x=1"],
      [":authority", "api.example.com"],
      [":scheme", "https"],
      ["x-a", "2"],
      ["x-b", "3"],
      ["x-b", "4"],
    ]);
  });

  it("set_header_map_pairs replaces the whole map", async () => {
    const vm = await probeVm(["request_headers|hset:rh::path=/new,:method=GET,:authority=h,x-z=1 hsize:rh"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, true);
    expect(s.upstream.headers).toEqual([
      [":path", "/new"],
      [":method", "GET"],
      [":authority", "h"],
      ["x-z", "1"],
    ]);
    expect(results(vm, "request_headers", "hsize:rh")).toEqual(["0 34"]); // byteSize: sum of key and value lengths
  });
});

describe("headers StopIteration → StopAllIterationAndWatermark (cpp-host)", () => {
  it("holds the body (no body callback) until the stream is continued", async () => {
    const vm = await probeVm(["request_headers|ret:1", "request_body|body:0:0:100", "tick|effective:2 cont:0"]);
    const s = vm.newStream();
    expect(s.id).toBe(2);
    expect(s.sendRequestHeaders(REQ, false)).toBe(1);
    expect(s.sendRequestBody("ab", false)).toBe(NOT_CALLED);
    expect(s.sendRequestBody("cd", true)).toBe(NOT_CALLED);
    expect(s.upstream.headers).toBeNull();
    expect(hooks(vm).filter((h) => h.startsWith("request_body"))).toEqual([]);
    vm.tick();
    expect(results(vm, "tick", "cont:0")).toEqual(["0"]);
    expect(hooks(vm).filter((h) => h.startsWith("request_body"))).toEqual(["request_body 4 1"]);
    expect(results(vm, "request_body", "body:0:0:100")).toEqual(["0 abcd"]);
    expect(s.upstream.headers).not.toBeNull();
    expect(txt(s.upstream.body())).toBe("abcd");
    expect(s.upstream.endOfStream).toBe(true);
  });

  it("continue_stream from the root context (no stream) does nothing", async () => {
    const vm = await probeVm(["request_headers|ret:1", "tick|cont:0"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, true);
    vm.tick();
    expect(results(vm, "tick", "cont:0")).toEqual(["0"]);
    expect(s.upstream.headers).toBeNull();
  });
});

describe("bodies (Context::decodeData, filter manager buffering)", () => {
  it("with Continue each call sees only the new chunk, and the chunk goes on", async () => {
    const vm = await probeVm(["request_body|body:0:0:100 bstat:0"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("ab", false);
    expect(s.upstream.bodyChunks.map(txt)).toEqual(["ab"]);
    s.sendRequestBody("cde", true);
    expect(results(vm, "request_body", "body:0:0:100")).toEqual(["0 ab", "0 cde"]);
    expect(results(vm, "request_body", "bstat:0")).toEqual(["0 2", "0 3"]);
    expect(s.upstream.bodyChunks.map(txt)).toEqual(["ab", "cde"]);
    expect(s.upstream.endOfStream).toBe(true);
  });

  it("StopIterationAndBuffer accumulates; the next call sees the whole body; released on Continue", async () => {
    const vm = await probeVm(["request_body|ret:1", "request_body_eos|body:0:0:100"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("ab", false);
    s.sendRequestBody("cd", false);
    expect(s.upstream.body().length).toBe(0);
    s.sendRequestBody("ef", true);
    expect(hooks(vm).filter((h) => h.startsWith("request_body"))).toEqual(["request_body 2 0", "request_body 4 0", "request_body 6 1"]);
    expect(results(vm, "request_body_eos", "body:0:0:100")).toEqual(["0 abcdef"]);
    expect(s.upstream.bodyChunks.map(txt)).toEqual(["abcdef"]);
  });

  it("buffering a request beyond the buffer limit → local 413 (through the encoder chain)", async () => {
    const vm = await probeVm(["request_body|ret:1"], { bufferLimitBytes: 8 });
    const r = runExchange(vm, { request: { authority: "a", body: ["12345", "67890", "x"] }, response: { status: 200 } });
    expect(r.localReply).toMatchObject({ status: 413, body: "Payload Too Large", details: "request_payload_too_large" });
    expect(r.downstreamResponse.status).toBe(413);
    expect(r.downstreamResponse.bodyText).toBe("Payload Too Large");
    expect(r.upstreamRequest!.body.length).toBe(0);
    expect(hooks(vm)).toContain("response_headers 3 0"); // the local reply went through the filter
    expect(hooks(vm).filter((h) => h.startsWith("request_body"))).toEqual(["request_body 5 0"]);
  });

  it("buffering a response beyond the limit before its headers went out → 500", async () => {
    const vm = await probeVm(["response_headers|ret:3"], { bufferLimitBytes: 8 });
    const r = runExchange(vm, { request: { authority: "a" }, response: { status: 200, body: ["12345", "67890"] } });
    expect(r.localReply).toMatchObject({ status: 500, details: "response_payload_too_large" });
    expect(r.downstreamResponse.status).toBe(500);
    expect(r.downstreamResponse.bodyText).toBe("Internal Server Error");
  });

  it("buffering a response beyond the limit after its headers went out → reset", async () => {
    const vm = await probeVm(["response_body|ret:1"], { bufferLimitBytes: 8 });
    const r = runExchange(vm, { request: { authority: "a" }, response: { status: 200, body: ["12345", "67890", "z"] } });
    expect(r.stream.resetReason).toBe("response_payload_too_large");
    expect(r.downstreamResponse.status).toBe(200);
    expect(r.stream.downstream.endOfStream).toBe(false);
  });

  it("StopAllIterationAndWatermark from headers never answers 413 (flow control)", async () => {
    const vm = await probeVm(["request_headers|ret:4"], { bufferLimitBytes: 4 });
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("123456789", true);
    expect(s.localReply).toBeUndefined();
  });

  it("set_buffer_bytes: start 0 and length ≥ size replaces the buffered body", async () => {
    const vm = await probeVm(["request_body|ret:1", "request_body_eos|bset:0:0:4:XYZ body:0:0:100"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("ab", false);
    s.sendRequestBody("cd", true);
    expect(results(vm, "request_body_eos", "bset:0:0:4:XYZ")).toEqual(["0"]);
    expect(results(vm, "request_body_eos", "body:0:0:100")).toEqual(["0 XYZ"]);
    expect(txt(s.upstream.body())).toBe("XYZ");
  });

  it("set_buffer_bytes: prepend (0,0), append (start ≥ size), partial replacement BadArgument", async () => {
    const vm = await probeVm(["request_body|bset:0:0:0:P bset:0:99:0:S bset:0:1:1:Q bset:0:0:1:Q"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("mid", true);
    expect(results(vm, "request_body", "bset:0:1:1:Q")).toEqual([`${R.BadArgument}`]);
    expect(results(vm, "request_body", "bset:0:0:1:Q")).toEqual([`${R.BadArgument}`]);
    expect(txt(s.upstream.body())).toBe("PmidS");
  });

  it("get_buffer_bytes: clamps the length, start past the end is empty, 64-bit overflow is BadArgument", async () => {
    const vm = await probeVm([
      "request_body|body:0:2:100 body:0:10:2 body:0:6:0 body:0:1:4294967295 body:0:0:4294967295 body:9:0:1 body:4:0:1",
    ]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("abcdef", true);
    expect(results(vm, "request_body", "body:0:2:100")).toEqual(["0 cdef"]);
    expect(results(vm, "request_body", "body:0:10:2")).toEqual(["0 <empty>"]);
    expect(results(vm, "request_body", "body:0:6:0")).toEqual(["0 <empty>"]);
    expect(results(vm, "request_body", "body:0:1:4294967295")).toEqual([`${R.BadArgument}`]);
    expect(results(vm, "request_body", "body:0:0:4294967295")).toEqual(["0 abcdef"]);
    expect(results(vm, "request_body", "body:9:0:1")).toEqual([`${R.BadArgument}`]); // type > MAX
    expect(results(vm, "request_body", "body:4:0:1")).toEqual([`${R.NotFound}`]); // no http call response
  });

  it("the response body is empty-but-Ok during the request phase", async () => {
    const vm = await probeVm(["request_body|body:1:0:10 bstat:1"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, false);
    s.sendRequestBody("abc", true);
    expect(results(vm, "request_body", "body:1:0:10")).toEqual(["0 <empty>"]);
    expect(results(vm, "request_body", "bstat:1")).toEqual(["0 0"]);
  });

  it("a response with end_of_stream on its headers gets no body callback", async () => {
    const vm = await probeVm([]);
    runExchange(vm, { request: { authority: "a" }, response: { status: 204 } });
    expect(hooks(vm).filter((h) => h.startsWith("response"))).toEqual(["response_headers 1 1"]);
  });
});

describe("local replies (Context::sendLocalResponse)", () => {
  it("from on_request_headers: no upstream, the reply passes through on_response_headers/body", async () => {
    const vm = await probeVm(["request_headers|local:403:denied:policy_denied:x-why=because ret:1", "response_headers|hget:sh::status"]);
    const r = runExchange(vm, { request: { authority: "a" }, response: { status: 200 } });
    expect(r.upstreamRequest).toBeNull();
    expect(r.localReply).toMatchObject({ status: 403, body: "denied", details: "policy_denied" });
    expect(r.downstreamResponse.status).toBe(403);
    expect(r.downstreamResponse.headers).toEqual([
      [":status", "403"],
      ["content-length", "6"],
      ["content-type", "text/plain"],
      ["x-why", "because"],
    ]);
    expect(r.downstreamResponse.bodyText).toBe("denied");
    expect(results(vm, "response_headers", "hget:sh::status")).toEqual(["0 403"]);
    expect(hooks(vm)).toContain("response_body 6 1");
  });

  it("from on_response_headers while the headers are held: sent directly, the upstream response is dropped", async () => {
    const vm = await probeVm(["response_headers|local:502:bad ret:1"]);
    const r = runExchange(vm, { request: { authority: "a" }, response: { status: 200, body: "upstream" } });
    expect(r.downstreamResponse.status).toBe(502);
    expect(r.downstreamResponse.bodyText).toBe("bad");
    expect(hooks(vm).filter((h) => h.startsWith("response_body"))).toEqual([]);
  });
});

describe("filter state (Context::setProperty, CelState)", () => {
  it("set_property stores wasm.<path>, overwrites, and get_property(path) falls back to it", async () => {
    const vm = await probeVm(["request_headers|setprop:asm.model:a setprop:asm.model:b prop:asm.model prop:asm.other"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, true);
    expect(results(vm, "request_headers", "setprop:asm.model:a")).toEqual(["0"]);
    expect(results(vm, "request_headers", "setprop:asm.model:b")).toEqual(["0"]);
    expect(results(vm, "request_headers", "prop:asm.model")).toEqual(["0 b"]);
    expect(results(vm, "request_headers", "prop:asm.other")).toEqual([`${R.NotFound}`]);
    expect(s.filterStateString("wasm.asm.model")).toBe("b");
    expect(s.filterState.get("wasm.asm.model")!.readOnly).toBe(false);
  });

  it("set_property from the root context is NotFound", async () => {
    const vm = await probeVm(["configure|setprop:x:1"]);
    expect(results(vm, "configure", "setprop:x:1")).toEqual([`${R.NotFound}`]);
  });

  it("a property declared read-only accepts one set, then BadArgument", async () => {
    const vm = await probeVm(["configure|declare:ro:1 declare:ro:1", "request_headers|setprop:ro:1 setprop:ro:2"]);
    const s = vm.newStream();
    s.sendRequestHeaders(REQ, true);
    expect(results(vm, "configure", "declare:ro:1")).toEqual(["0", `${R.BadArgument}`]);
    expect(results(vm, "request_headers", "setprop:ro:1")).toEqual(["0"]);
    expect(results(vm, "request_headers", "setprop:ro:2")).toEqual([`${R.BadArgument}`]);
    expect(s.filterStateString("wasm.ro")).toBe("1");
  });

  it("unknown foreign functions are NotFound", async () => {
    const vm = await probeVm(["configure|ff:no_such_function"]);
    expect(results(vm, "configure", "ff:no_such_function")).toEqual([`${R.NotFound}`]);
  });
});

describe("properties (Context::getProperty)", () => {
  const meta = { WORKLOAD_NAME: "sleep", NAMESPACE: "default" };
  const script = ["request_headers|prop:xds/node/metadata/WORKLOAD_NAME prop:node/metadata/WORKLOAD_NAME prop:no_such_property"];

  it("xds mode (default): only xds.node.metadata.X", async () => {
    const vm = await probeVm(script, { properties: { nodeMetadata: meta } });
    vm.newStream().sendRequestHeaders(REQ, true);
    expect(results(vm, "request_headers", "prop:xds/node/metadata/WORKLOAD_NAME")).toEqual(["0 sleep"]);
    expect(results(vm, "request_headers", "prop:node/metadata/WORKLOAD_NAME")).toEqual([`${R.NotFound}`]);
    expect(results(vm, "request_headers", "prop:no_such_property")).toEqual([`${R.NotFound}`]);
  });

  it("legacy mode: only node.metadata.X; both: either", async () => {
    const legacy = await probeVm(script, { properties: { nodeMetadata: meta, nodeMetadataPaths: "legacy" } });
    legacy.newStream().sendRequestHeaders(REQ, true);
    expect(results(legacy, "request_headers", "prop:xds/node/metadata/WORKLOAD_NAME")).toEqual([`${R.NotFound}`]);
    expect(results(legacy, "request_headers", "prop:node/metadata/WORKLOAD_NAME")).toEqual(["0 sleep"]);
    const both = await probeVm(script, { properties: { nodeMetadata: meta, nodeMetadataPaths: "both" } });
    both.newStream().sendRequestHeaders(REQ, true);
    expect(results(both, "request_headers", "prop:xds/node/metadata/WORKLOAD_NAME")).toEqual(["0 sleep"]);
    expect(results(both, "request_headers", "prop:node/metadata/WORKLOAD_NAME")).toEqual(["0 sleep"]);
  });

  it("request.* from live headers; response.code as int64 LE", async () => {
    const vm = await probeVm([
      "request_headers|prop:request/path prop:request/url_path prop:request/method prop:request/scheme prop:request/protocol",
      "response_headers|propx:response/code",
      "log|propx:response/code",
    ]);
    runExchange(vm, { request: { authority: "a", path: "/v1/x?y=1", method: "GET", scheme: "https" }, response: { status: 200 } });
    expect(results(vm, "request_headers", "prop:request/path")).toEqual(["0 /v1/x?y=1"]);
    expect(results(vm, "request_headers", "prop:request/url_path")).toEqual(["0 /v1/x"]);
    expect(results(vm, "request_headers", "prop:request/method")).toEqual(["0 GET"]);
    expect(results(vm, "request_headers", "prop:request/scheme")).toEqual(["0 https"]);
    expect(results(vm, "request_headers", "prop:request/protocol")).toEqual(["0 HTTP/1.1"]);
    expect(results(vm, "response_headers", "propx:response/code")).toEqual(["0 0xc800000000000000"]);
    expect(results(vm, "log", "propx:response/code")).toEqual(["0 0xc800000000000000"]);
  });

  it("upstream.address only once the request went upstream; source.address always", async () => {
    const vm = await probeVm(["request_headers|prop:upstream/address prop:source/address", "response_headers|prop:upstream/address"]);
    runExchange(vm, {
      request: { authority: "a" },
      response: {},
      info: { upstreamAddress: "10.0.0.7:443", sourceAddress: "10.1.1.1:5555" },
    });
    expect(results(vm, "request_headers", "prop:upstream/address")).toEqual([`${R.NotFound}`]);
    expect(results(vm, "request_headers", "prop:source/address")).toEqual(["0 10.1.1.1:5555"]);
    expect(results(vm, "response_headers", "prop:upstream/address")).toEqual(["0 10.0.0.7:443"]);
  });

  it("plugin_root_id is readable from the root context", async () => {
    const vm = await probeVm(["configure|prop:plugin_root_id prop:request/path"]);
    expect(results(vm, "configure", "prop:plugin_root_id")).toEqual(["0 probe"]);
    expect(results(vm, "configure", "prop:request/path")).toEqual([`${R.NotFound}`]);
  });
});

describe("metrics through the ABI", () => {
  it("define returns a new id each time; counter increment ≤ 0 is BadArgument", async () => {
    const vm = await probeVm(["configure|mdef:0:c mdef:0:c minc:4:2 minc:8:3 minc:4:0 mget:8 mdef:2:h mget:6"]);
    expect(results(vm, "configure", "mdef:0:c")).toEqual(["0 4", "0 8"]);
    expect(results(vm, "configure", "minc:4:0")).toEqual([`${R.BadArgument}`]);
    expect(results(vm, "configure", "mget:8")).toEqual(["0 5"]);
    expect(results(vm, "configure", "mget:6")).toEqual([`${R.BadArgument}`]);
    expect(vm.stats.counterValue("wasmcustom.c")).toBe(5);
  });
});

describe("aborted streams", () => {
  it("finish() before the response: on_log runs, response headers are NotFound there", async () => {
    const vm = await probeVm(["log|hget:sh::status prop:request/headers/x-a"]);
    const r = runExchange(vm, {
      request: { authority: "a", headers: [["x-a", "v"]], body: "b" },
      response: { status: 200 },
      abortAfter: "requestBody",
    });
    expect(results(vm, "log", "hget:sh::status")).toEqual([`${R.NotFound}`]);
    expect(results(vm, "log", "prop:request/headers/x-a")).toEqual(["0 v"]);
    expect(hooks(vm).slice(-3)).toEqual(["log", "done", "delete"]);
    expect(r.stream.responseFlags).toBe("DC");
  });
});
