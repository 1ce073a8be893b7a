import { main as asc } from "assemblyscript/asc";
import { statSync } from "node:fs";
const variants = JSON.parse(process.argv[2]);
for (const [name, flags] of variants) {
  const out = `/tmp/perf/v-${name}.wasm`;
  const t0 = Date.now();
  const { error, stderr } = await asc(["assembly/index.ts", "--config", "asconfig.json", "--target", "release", "--outFile", out, ...flags]);
  if (error) { console.log(name, "ERROR", stderr.toString().slice(0, 500)); continue; }
  console.log(name, statSync(out).size, Date.now() - t0, "ms", flags.join(" "));
}
