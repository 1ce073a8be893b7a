// Host-call census: how many proxy-wasm imports the filter calls per stream of each benchmark
// workload (test host, observe-only, and with the seed's routing), by import. The first place to
// look when the cost per request or per body callback has to fall: every import is a VM exit.
//   npx tsx bench/host-calls.ts [--only NAME]
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { WasmVm } from "../host";
import { wasmPluginConfig } from "../repo/manifests";
import { buildWorkloads, drive, QUICK_SIZES } from "./workloads";

const root = join(import.meta.dirname, "..");
const { only } = parseArgs({ options: { only: { type: "string" } }, strict: true, allowPositionals: false }).values;

async function census(pluginConfig: string, label: string): Promise<void> {
  const module = new WebAssembly.Module(readFileSync(join(root, "build/llmproxy.wasm")));
  console.log(`\n## ${label}\n`);
  console.log("| workload | body callbacks | host calls per stream | by import |");
  console.log("| --- | --- | --- | --- |");
  for (const w of buildWorkloads({ ...QUICK_SIZES, events: 100 })) {
    if (only && !w.name.includes(only)) continue;
    const vm = await WasmVm.load({
      wasm: module,
      rootId: "asm-llm-proxy",
      pluginConfig,
      env: { DASHSCOPE_API_KEY: "sk-x" },
      properties: { nodeMetadata: { WORKLOAD_NAME: "sleep", NAMESPACE: "default" } },
    });
    if (!vm.start()) throw new Error("start failed");
    drive(vm, w); // warm: metric ids defined, pools filled
    vm.hostCallCounts = new Map();
    const streams = 5;
    for (let i = 0; i < streams; i++) drive(vm, w);
    const counts = [...vm.hostCallCounts].map(([k, v]) => [k, v / streams] as const).sort((a, b) => b[1] - a[1]);
    const total = counts.reduce((a, [, v]) => a + v, 0);
    const callbacks = w.requestChunks.length + w.responseChunks.length;
    console.log(`| ${w.name} | ${callbacks} | ${total} | ${counts.map(([k, v]) => `${k.replace(/^proxy_/, "")} ${v}`).join(", ")} |`);
  }
}

await census("", "observe-only");
await census(wasmPluginConfig(), "the seed's routing");
