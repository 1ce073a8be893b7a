import { beforeAll, describe, expect, it } from "vitest";
import { WasmVm, runExchange, WasmResult } from "../host";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { abiVersionOf, registeredImports } from "../host/abi/imports";
import { repoRoot } from "../repo/manifests";
import { noopWasm, probeModule, probeVm, results, hooks, REQ, RESP } from "./host-fixtures";

beforeAll(async () => {
  noopWasm();
  await probeModule();
});

/** A minimal hand-assembled wasm module: imports env.<name> and exports proxy_abi_version_0_2_0,
 * memory and malloc. */
function tinyModule(importName: string | null, abi: string | false = "proxy_abi_version_0_2_0"): Uint8Array {
  const str = (s: string) => [s.length, ...Buffer.from(s)];
  const section = (id: number, body: number[]) => [id, body.length, ...body];
  const types = section(1, [2, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f]); // ()->(), (i32)->i32
  const imports = importName ? section(2, [1, ...str("env"), ...str(importName), 0, 0]) : [];
  const nImported = importName ? 1 : 0;
  const funcs = section(3, [2, 0, 1]);
  const mem = section(5, [1, 0, 1]);
  const exportsList: number[][] = [
    [...str("memory"), 2, 0],
    [...str("malloc"), 0, nImported + 1],
  ];
  if (abi) exportsList.push([...str(abi), 0, nImported]);
  const exps = section(7, [exportsList.length, ...exportsList.flat()]);
  const code = section(10, [2, 2, 0, 0x0b, 4, 0, 0x41, 0, 0x0b]);
  return Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, ...types, ...imports, ...funcs, ...mem, ...exps, ...code]);
}

describe("loading (cpp-host link / ABI checks)", () => {
  it("a module importing an unknown function fails to load", async () => {
    await expect(WasmVm.load({ wasm: tinyModule("proxy_no_such_thing") })).rejects.toThrow(/missing import: env.proxy_no_such_thing/);
  });
  it("a module importing a known function loads", async () => {
    const vm = await WasmVm.load({ wasm: tinyModule("proxy_log") });
    expect(vm.start()).toBe(true);
  });
  // cpp-host registers the ABI-specific functions of the module's own ABI only (src/wasm.cc
  // registerCallbacks): the release module once imported clear_route_cache under 0.2.0 and
  // Envoy refused it, while this host, registering everything, loaded it.
  it("a 0.2.0 module importing an ABI 0.1.0 function (proxy_clear_route_cache) fails to load", async () => {
    await expect(WasmVm.load({ wasm: tinyModule("proxy_clear_route_cache") })).rejects.toThrow(
      /missing import: env.proxy_clear_route_cache/,
    );
    await expect(WasmVm.load({ wasm: tinyModule("proxy_continue_request") })).rejects.toThrow(/missing import/);
    await expect(WasmVm.load({ wasm: tinyModule("proxy_get_log_level") })).rejects.toThrow(/missing import/);
  });
  it("each ABI gets its own functions", async () => {
    await expect(WasmVm.load({ wasm: tinyModule("proxy_clear_route_cache", "proxy_abi_version_0_1_0") })).resolves.toBeDefined();
    await expect(WasmVm.load({ wasm: tinyModule("proxy_get_log_level", "proxy_abi_version_0_2_1") })).resolves.toBeDefined();
    await expect(WasmVm.load({ wasm: tinyModule("proxy_continue_stream", "proxy_abi_version_0_2_0") })).resolves.toBeDefined();
  });
  it("the release module imports only what Envoy registers for its ABI", async () => {
    const module = new WebAssembly.Module(readFileSync(join(repoRoot, "build/llmproxy.wasm")));
    const abi = abiVersionOf(module);
    expect(abi).toBe("proxy_abi_version_0_2_0");
    const registered = registeredImports(abi!);
    const missing = WebAssembly.Module.imports(module)
      .map((i) => `${i.module}.${i.name}`)
      .filter((n) => !registered.has(n));
    expect(missing).toEqual([]);
  });
  it("a module without a proxy_abi_version export is rejected", async () => {
    await expect(WasmVm.load({ wasm: tinyModule(null, false) })).rejects.toThrow(/ABI version/);
  });
});

describe("lifecycle with the no-op filter", () => {
  it("starts: _initialize, on_context_create(root), on_vm_start, on_configure", async () => {
    const vm = await WasmVm.load({ wasm: noopWasm() });
    expect(vm.start()).toBe(true);
    expect(vm.failed).toBe(false);
    expect(vm.logs.some((l) => l.message.includes("onStart(vm_configuration_size:0)"))).toBe(true);
  });
  it("a root id with no registered root context traps at start (ensureRootContext throws)", async () => {
    // The probe registers only "probe" (no default root context to fall back to).
    const vm = await WasmVm.load({ wasm: await probeModule(), rootId: "other" });
    expect(vm.start()).toBe(false);
    expect(vm.failed).toBe(true);
    expect(vm.trapCount).toBe(1);
  });
  it("passes an exchange through unchanged", async () => {
    const vm = await WasmVm.load({ wasm: noopWasm() });
    vm.start();
    const r = runExchange(vm, {
      request: { authority: "a.example", path: "/p", body: ["he", "llo"] },
      response: { status: 201, body: "ok" },
    });
    expect(r.upstreamRequest!.headers).toEqual([
      [":method", "POST"],
      [":path", "/p"],
      [":authority", "a.example"],
      [":scheme", "http"],
    ]);
    expect(Buffer.from(r.upstreamRequest!.body).toString()).toBe("hello");
    expect(r.downstreamResponse.status).toBe(201);
    expect(r.downstreamResponse.bodyText).toBe("ok");
  });
});

describe("malloc protocol (WasmBase::copyToPointerSize)", () => {
  it("exactly one malloc of the exact size per returned value; none for an empty value", async () => {
    const vm = await probeVm(["request_headers|hget:rh:x-a hget:rh:x-empty prop:plugin_root_id"]);
    const s = vm.newStream();
    const before = { calls: vm.mallocCalls, bytes: vm.mallocBytes };
    s.sendRequestHeaders([...REQ, ["x-empty", ""]], true);
    expect(results(vm, "request_headers", "hget:rh:x-a")).toEqual(["0 1"]);
    expect(results(vm, "request_headers", "hget:rh:x-empty")).toEqual(["0 <empty>"]);
    expect(results(vm, "request_headers", "prop:plugin_root_id")).toEqual(["0 probe"]);
    // "1" (1 byte) and "probe" (5 bytes); the empty value needs no malloc.
    expect(vm.mallocCalls - before.calls).toBe(2);
    expect(vm.mallocBytes - before.bytes).toBe(6);
  });
  it("re-reads memory after growth", async () => {
    const vm = await probeVm(["request_headers|grow:20 hget:rh:x-a"]);
    const before = vm.memoryBytes();
    vm.newStream().sendRequestHeaders(REQ, true);
    expect(vm.memoryBytes()).toBeGreaterThanOrEqual(before + 20 * 65536);
    expect(results(vm, "request_headers", "hget:rh:x-a")).toEqual(["0 1"]);
  });
});

describe("configuration", () => {
  it("on_configure returning false rejects the plugin", async () => {
    const vm = await WasmVm.load({ wasm: await probeModule(), rootId: "probe", pluginConfig: "configure|ret:1" });
    expect(vm.start()).toBe(false);
    expect(vm.failed).toBe(false);
  });
  it("the plugin configuration is readable only while configuring", async () => {
    const vm = await probeVm(["configure|body:7:0:100", "request_headers|body:7:0:100 body:6:0:10"]);
    vm.newStream().sendRequestHeaders(REQ, true);
    expect(results(vm, "configure", "body:7:0:100")).toEqual(["0 configure|body:7:0:100\nrequest_headers|body:7:0:100 body:6:0:10"]);
    expect(results(vm, "request_headers", "body:7:0:100")).toEqual([`${WasmResult.NotFound}`]);
    expect(results(vm, "request_headers", "body:6:0:10")).toEqual(["0 <empty>"]);
  });
});

describe("traps (FAIL_CLOSE / FAIL_OPEN)", () => {
  it("a trap fails the VM: the stream and every later stream get a local 503, no on_log", async () => {
    const vm = await probeVm(["request_body|trap"]);
    const r = runExchange(vm, { request: { authority: "a", body: "x" }, response: { status: 200 } });
    expect(vm.failed).toBe(true);
    expect(vm.lastTrap).toBeInstanceOf(WebAssembly.RuntimeError);
    expect(r.localReply).toMatchObject({ status: 503, details: "wasm_fail_stream" });
    expect(r.downstreamResponse.status).toBe(503);
    expect(r.upstreamRequest!.body.length).toBe(0); // headers went up, the body did not
    expect(hooks(vm)).not.toContain("log");
    const r2 = runExchange(vm, { request: { authority: "a" }, response: { status: 200 } });
    expect(r2.upstreamRequest).toBeNull();
    expect(r2.downstreamResponse.status).toBe(503);
  });
  it("proc_exit (AssemblyScript abort) is a trap", async () => {
    const vm = await probeVm(["request_headers|abort"]);
    const r = runExchange(vm, { request: { authority: "a" }, response: {} });
    expect(vm.failed).toBe(true);
    expect(vm.lastTrap?.name).toBe("ProcExit");
    expect(r.downstreamResponse.status).toBe(503);
  });
  // Observed in Envoy 1.36.4 and 1.40.0 (tests/envoy-failure.test.ts): under FAIL_OPEN the
  // stream that trapped still gets the 503; only streams created afterwards skip the filter.
  // This host used to let the trapping stream through.
  it("FAIL_OPEN: the trapping stream gets a 503, later streams skip the filter", async () => {
    const vm = await probeVm(["request_headers|trap"], { failStrategy: "FAIL_OPEN" });
    const r = runExchange(vm, { request: { authority: "a", body: "b" }, response: { status: 200, body: "ok" } });
    expect(vm.failed).toBe(true);
    expect(r.localReply).toMatchObject({ status: 503, details: "wasm_fail_stream" });
    expect(r.upstreamRequest).toBeNull();
    const r2 = runExchange(vm, { request: { authority: "a", body: "b" }, response: { status: 200, body: "ok" } });
    expect(r2.localReply).toBeUndefined();
    expect(Buffer.from(r2.upstreamRequest!.body).toString()).toBe("b");
    expect(r2.downstreamResponse.bodyText).toBe("ok");
  });
});

describe("stream callbacks order", () => {
  it("on_log → on_done → on_delete after the response", async () => {
    const vm = await probeVm([]);
    runExchange(vm, { request: { authority: "a", body: "q" }, response: { status: 200, headers: RESP.slice(1), body: "r" } });
    expect(hooks(vm)).toEqual([
      "request_headers 4 0",
      "request_body 1 1",
      "response_headers 2 0",
      "response_body 1 1",
      "log",
      "done",
      "delete",
    ]);
  });
});

describe("WASI (cpp-host exports.cc)", () => {
  it("environ_sizes_get / environ_get expose VmOptions.env as KEY=VALUE\\0", async () => {
    const { hostFunctions } = await import("../host/abi/imports");
    const vm = await WasmVm.load({ wasm: noopWasm(), env: { API_KEY: "k1", B: "" } });
    vm.start();
    const wasi = hostFunctions(vm).wasi_snapshot_preview1 as unknown as Record<string, (...a: number[]) => number>;
    const base = vm.memoryBytes() - 1024;
    expect(wasi.environ_sizes_get(base, base + 4)).toBe(0);
    expect(vm.mem.getU32(base)).toBe(2);
    expect(vm.mem.getU32(base + 4)).toBe("API_KEY=k1\0B=\0".length);
    expect(wasi.environ_get(base + 8, base + 64)).toBe(0);
    expect(vm.mem.getU32(base + 8)).toBe(base + 64);
    expect(vm.mem.getU32(base + 12)).toBe(base + 64 + 11);
    expect(vm.mem.string(base + 64, 14)).toBe("API_KEY=k1\0B=\0");
  });
  it("fd_write logs stdout at info and stderr at error, without the trailing newline", async () => {
    const { hostFunctions } = await import("../host/abi/imports");
    const vm = await WasmVm.load({ wasm: noopWasm() });
    const wasi = hostFunctions(vm).wasi_snapshot_preview1 as unknown as Record<string, (...a: number[]) => number>;
    const base = vm.memoryBytes() - 256;
    vm.mem.set(base + 64, new TextEncoder().encode("hello\n"));
    vm.mem.setU32(base, base + 64);
    vm.mem.setU32(base + 4, 6);
    expect(wasi.fd_write(2, base, 1, base + 16)).toBe(0);
    expect(vm.mem.getU32(base + 16)).toBe(6);
    expect(vm.logs.at(-1)).toEqual({ level: 4, message: "hello" });
    expect(wasi.fd_write(3, base, 1, base + 16)).toBe(8); // EBADF
  });
});
