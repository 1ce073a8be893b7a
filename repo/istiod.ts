// The istiod goldens: what Istio's own control plane and agent render from manifests/ for the
// `sleep` sidecar (tests/fixtures/istiod/<line>/, written by `npm run istio:render`, read by
// tests/istiod-*.test.ts). Which Istio commits, which manifest documents feed them, and the hash
// that says whether they are still fresh.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { canonicalJson, loadManifestEntries, repoRoot } from "./manifests";

export interface IstioLine {
  /** Folder under tests/fixtures/istiod/. */
  line: string;
  /** The version the rendered proxy reports (pilot gates features on it). */
  proxyVersion: string;
  /** Release branch and commit of istio/istio the rendering ran. */
  branch: string;
  commit: string;
  /** tools/istio-render's go.mod for this line. */
  modfile: string;
  /** Where the module's source comes from: the Go module proxy, or a git tag extracted into
   * .istio-render/src/ (the proxy serves no commit of that branch). */
  source: { kind: "proxy"; module: string } | { kind: "git"; tag: string; dir: string };
}

/** Before (1.29) and after (1.30+) pilot translates a WasmPlugin into a TrafficExtension. */
export const ISTIO_LINES: IstioLine[] = [
  {
    line: "1.29",
    proxyVersion: "1.29.6",
    branch: "release-1.29",
    commit: "7019d6d3608e4995e9a36d2977cfec3a341431cd",
    modfile: "go-1.29.mod",
    source: { kind: "git", tag: "1.29.6", dir: ".istio-render/src/istio-1.29.6" },
  },
  {
    line: "1.31",
    proxyVersion: "1.31.0",
    branch: "release-1.31",
    commit: "eed52ebb66ad",
    modfile: "go.mod",
    source: { kind: "proxy", module: "istio.io/istio@v0.0.0-20260827124520-eed52ebb66ad" },
  },
];

export const GOLDEN_ROOT = join(repoRoot, "tests", "fixtures", "istiod");
export const RENDER_COMMAND = "npm run istio:render";

/** The manifest documents the rendering reads (manifests/*.yaml and manifests/demo/*.yaml;
 * examples/ holds alternatives), as canonical JSON: comments and formatting do not count. */
export function manifestsDigest(dir = "manifests"): { sha256: string; files: string[] } {
  const entries = loadManifestEntries(dir).filter((e) => !/[\\/]examples[\\/]/.test(e.file));
  const h = createHash("sha256");
  const files = new Set<string>();
  for (const e of entries) {
    files.add(e.file);
    h.update(`${e.file}#${e.index}\n${canonicalJson(e.doc)}\n`);
  }
  return { sha256: h.digest("hex"), files: [...files] };
}

export interface GoldenMeta {
  line: string;
  istio: { branch: string; commit: string; source: string; proxyVersion: string };
  manifestsSha256: string;
  manifestFiles: string[];
  /** The module the agent pulled (sha256 of build/llmproxy.wasm then), or why it did not. */
  agentPull: { image: string; moduleSha256: string } | { skipped: string };
  renderedAt: string;
}

export function goldenDir(line: string): string {
  return join(GOLDEN_ROOT, line);
}

/** One golden file of a line, parsed. */
export function golden<T = any>(line: string, file: string): T {
  return JSON.parse(readFileSync(join(goldenDir(line), file), "utf8")) as T;
}

export function goldenExists(line: string, file: string): boolean {
  return existsSync(join(goldenDir(line), file));
}

/** How pilot names a WasmPlugin's filter. `filter`: the ECDS resource, which is also the HTTP
 * filter's name in the listener; `plugin`: PluginConfig.name, which Envoy's `wasm.<plugin>.*`
 * stats and log lines carry. Up to 1.29 from the WasmPlugin itself (pilot/pkg/model/
 * extensions.go:53,161,271 at 1.29.6). From 1.30 pilot translates every WasmPlugin into a
 * TrafficExtension named `<name>~istio-translated-wasmplugin` (pilot/pkg/config/kube/extensions/
 * translate.go:27,70, added by istio/istio#59052) and names that (pilot/pkg/model/
 * extensions.go:53,250,352 at 1.30.3 and 1.31). */
export function wasmPluginNames(namespace: string, name: string, line: string): { filter: string; plugin: string } {
  const [major, minor] = line.split(".").map(Number);
  if (major === 1 && minor < 30) return { filter: `extensions.istio.io/wasmplugin/${namespace}.${name}`, plugin: `${namespace}.${name}` };
  const plugin = `${namespace}.${name}~istio-translated-wasmplugin`;
  return { filter: `extensions.istio.io/trafficextension/${plugin}`, plugin };
}

/** The line the local sidecar (envoy/bootstrap.ts) follows: the newest rendered. */
export const LOCAL_ISTIO_LINE = "1.31";
