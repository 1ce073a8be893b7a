#!/usr/bin/env node
// What the release module's bytes consist of: its sections, and its largest functions by body
// size, named (the module is rebuilt with the release settings plus --debug, which keeps the
// name section; the code is the same, the names section is not counted).
//   node bench/module-size.mjs [--top 30]
import { main as asc } from "assemblyscript/asc";
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

process.chdir(join(dirname(fileURLToPath(import.meta.url)), ".."));

function leb(bytes, at) {
  let v = 0;
  let shift = 0;
  for (;;) {
    const b = bytes[at++];
    v += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if (b < 0x80) return [v, at];
  }
}

/** Sections [id, name, size, start], function body sizes, imported function count, names. */
export function analyse(bytes) {
  const SECTION = [
    "custom",
    "type",
    "import",
    "function",
    "table",
    "memory",
    "global",
    "export",
    "start",
    "element",
    "code",
    "data",
    "datacount",
  ];
  const sections = [];
  const bodies = [];
  const names = new Map();
  let imported = 0;
  let at = 8;
  while (at < bytes.length) {
    const id = bytes[at++];
    let size;
    [size, at] = leb(bytes, at);
    const start = at;
    let name = SECTION[id] ?? `#${id}`;
    if (id === 0) {
      let n;
      [n, at] = leb(bytes, at);
      name = `custom:${new TextDecoder().decode(bytes.subarray(at, at + n))}`;
      if (name === "custom:name") {
        let p = at + n;
        while (p < start + size) {
          const sub = bytes[p++];
          let len;
          [len, p] = leb(bytes, p);
          if (sub === 1) {
            let count;
            let q;
            [count, q] = leb(bytes, p);
            for (let i = 0; i < count; i++) {
              let idx;
              let l;
              [idx, q] = leb(bytes, q);
              [l, q] = leb(bytes, q);
              names.set(idx, new TextDecoder().decode(bytes.subarray(q, q + l)));
              q += l;
            }
          }
          p += len;
        }
      }
    } else if (id === 2) {
      let count;
      let p;
      [count, p] = leb(bytes, start);
      for (let i = 0; i < count; i++) {
        let l;
        [l, p] = leb(bytes, p);
        p += l;
        [l, p] = leb(bytes, p);
        p += l;
        const kind = bytes[p++];
        if (kind === 0) {
          imported++;
          [, p] = leb(bytes, p);
        } else if (kind === 1) {
          p++;
          const flags = bytes[p++];
          [, p] = leb(bytes, p);
          if (flags & 1) [, p] = leb(bytes, p);
        } else if (kind === 2) {
          const flags = bytes[p++];
          [, p] = leb(bytes, p);
          if (flags & 1) [, p] = leb(bytes, p);
        } else p += 2;
      }
    } else if (id === 10) {
      let count;
      let p;
      [count, p] = leb(bytes, start);
      for (let i = 0; i < count; i++) {
        let l;
        [l, p] = leb(bytes, p);
        bodies.push(l);
        p += l;
      }
    }
    sections.push({ name, size });
    at = start + size;
  }
  return { sections, bodies, names, imported };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values } = parseArgs({ options: { top: { type: "string", default: "30" } }, strict: true, allowPositionals: false });
  const top = Number(values.top);
  if (!(top > 0)) throw new Error("--top takes a positive number");
  mkdirSync("build/knobs", { recursive: true });
  const out = "build/knobs/release-named.wasm";
  const { error, stderr } = await asc([
    "assembly/index.ts",
    "--config",
    "asconfig.json",
    "--target",
    "release",
    "--outFile",
    out,
    "--debug",
  ]);
  if (error) throw new Error(stderr.toString());
  const release = statSync("build/llmproxy.wasm").size;
  const { sections, bodies, names, imported } = analyse(readFileSync(out));
  console.log(`build/llmproxy.wasm: ${release} bytes; named rebuild's sections (bytes):`);
  for (const s of sections) console.log(`  ${s.name.padEnd(24)} ${String(s.size).padStart(7)}`);
  const ranked = bodies.map((size, i) => ({ size, name: names.get(i + imported) ?? `#${i + imported}` })).sort((a, b) => b.size - a.size);
  const total = bodies.reduce((a, b) => a + b, 0);
  console.log(`\n${bodies.length} functions, ${total} bytes of code; the ${top} largest:`);
  for (const f of ranked.slice(0, top)) console.log(`  ${String(f.size).padStart(6)}  ${f.name}`);
  const byFile = new Map();
  for (const f of ranked) {
    // "assembly/json/scanner/JsonScanner#feed" -> assembly/json/scanner; "~lib/string/String#split" -> ~lib/string
    const path = f.name.replace(/^start:/, "").split("/");
    const file =
      path[0] === "assembly"
        ? path
            .slice(0, path.length - 1)
            .filter((p) => !/[#<]/.test(p))
            .join("/")
        : path.slice(0, 2).join("/");
    byFile.set(file, (byFile.get(file) ?? 0) + f.size);
  }
  console.log("\ncode bytes by source (prefix of the function name):");
  for (const [file, size] of [...byFile].sort((a, b) => b[1] - a[1]).slice(0, 25)) console.log(`  ${String(size).padStart(6)}  ${file}`);
}
