#!/usr/bin/env node
// Fails (exit 1) when the project's own TypeScript/AssemblyScript modules import each other in a
// cycle. A run-time cycle makes load order matter (a module can see another's exports still
// undefined); any cycle, type-only ones included, means neither module can be read, tested or
// moved without the other. Dynamic `import()` is not counted: it runs after loading.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const DIRS = ["assembly", "host", "envoy", "local", "repo", "bench", "scripts", "tests"];

export function sourceFiles(dir, out = []) {
  if (!existsSync(dir)) return out;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (name === "node_modules") continue;
    if (statSync(path).isDirectory()) sourceFiles(path, out);
    else if (/\.(ts|mts)$/.test(name) && !name.endsWith(".d.ts")) out.push(path);
  }
  return out;
}

// `import ... from "x"`, `export ... from "x"`, `import "x"`.
const STATEMENT = /^\s*(?:import|export)\s+[^;]*?\s*from\s*["']([^"']+)["']|^\s*import\s*["']([^"']+)["']/gms;

function resolveImport(from, spec) {
  if (!spec.startsWith(".")) return undefined;
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, join(base, "index.ts")]) {
    if (existsSync(candidate) && statSync(candidate).isFile()) return candidate;
  }
  return undefined;
}

/** file → the project files it imports. */
export function importGraph(files) {
  const graph = new Map();
  for (const file of files) {
    const edges = new Set();
    for (const m of readFileSync(file, "utf8").matchAll(STATEMENT)) {
      const [, spec, bareSpec] = m;
      const target = resolveImport(file, spec ?? bareSpec);
      if (target) edges.add(target);
    }
    graph.set(file, edges);
  }
  return graph;
}

/** Tarjan's strongly connected components with more than one module (or a self-import). */
export function cycles(graph) {
  let next = 0;
  const index = new Map(),
    low = new Map(),
    stack = [],
    onStack = new Set(),
    found = [];
  const visit = (v) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), index.get(w)));
    }
    if (low.get(v) !== index.get(v)) return;
    const component = [];
    let w;
    do {
      w = stack.pop();
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1 || graph.get(v)?.has(v)) found.push(component);
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

function main() {
  const files = DIRS.flatMap((d) => sourceFiles(join(root, d)));
  const found = cycles(importGraph(files));
  if (found.length === 0) {
    console.log(`check-cycles: no import cycle among ${files.length} modules`);
    return;
  }
  for (const component of found) {
    console.error(
      `import cycle: ${component
        .map((f) => relative(root, f))
        .sort()
        .join(" ↔ ")}`,
    );
  }
  process.exit(1);
}

// Also imported by tests/structure.test.ts (the graph and the cycle search).
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
