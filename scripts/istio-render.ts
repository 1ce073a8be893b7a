// `npm run istio:render`: the istiod goldens. For each Istio line in repo/istiod.ts, runs
// tools/istio-render (Go, Istio's own pilot/test/xds server, pilot-agent's bootstrap and Wasm
// conversion) on manifests/ and writes tests/fixtures/istiod/<line>/ with meta.json (the Istio
// commit, the hash of the manifests it read, the module the agent pulled).
//
// Needs Go (>= the module's go line) and the Go module proxy; the first run downloads and builds
// Istio (minutes, cached by Go in its usual GOMODCACHE/GOCACHE). The 1.29 line builds from the
// git tag's source, extracted into the git-ignored .istio-render/src/ from a clone of istio/istio
// (ISTIO_GIT, a local clone or mirror; else a shallow clone of the tag from GitHub).
// The agent pulls the WasmPlugin's image as `npm run image` builds it, from a registry on
// loopback (OCI tools: scripts/oci-tools.sh); without them the pull is skipped and meta.json
// says so. `--line 1.31` renders one line only.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ISTIO_LINES, type GoldenMeta, type IstioLine, RENDER_COMMAND, goldenDir, manifestsDigest } from "../repo/istiod";
import { repoRoot } from "../repo/manifests";
import { LocalRegistry } from "../tests/helpers/registry";
import { buildImage, pushImage } from "./image";

const TOOL = join(repoRoot, "tools", "istio-render");
const WASM = join(repoRoot, "build", "llmproxy.wasm");

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", cwd: opts.cwd, env: opts.env ?? process.env, maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.error}):\n${r.stderr}${r.stdout}`);
  return r.stdout;
}

const goEnv = (modfile: string): NodeJS.ProcessEnv => ({ ...process.env, GOFLAGS: `-mod=mod -modfile=${modfile}`, GOTOOLCHAIN: "local" });

/** The istio.io/istio source the line builds against: the module's directory, or the git tag
 * extracted into .istio-render/src/. */
function extract(l: IstioLine): string {
  if (l.source.kind !== "git")
    return run("go", ["list", "-m", "-f", "{{.Dir}}", "istio.io/istio"], { cwd: TOOL, env: goEnv(l.modfile) }).trim();
  const dir = join(repoRoot, l.source.dir);
  if (existsSync(join(dir, "go.mod"))) return dir;
  mkdirSync(dir, { recursive: true });
  let git = process.env.ISTIO_GIT;
  if (!git) {
    git = join(repoRoot, ".istio-render", "istio.git");
    if (!existsSync(git))
      run("git", ["clone", "--bare", "--depth", "1", "--branch", l.source.tag, "https://github.com/istio/istio.git", git]);
  }
  const commit = run("git", ["-C", git, "rev-parse", `${l.source.tag}^{commit}`]).trim();
  if (commit !== l.commit) throw new Error(`tag ${l.source.tag} is ${commit} in ${git}, expected ${l.commit}`);
  const r = spawnSync("bash", ["-c", `git -C "$0" archive "$1" | tar -x -C "$2"`, git, l.source.tag, dir], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`extracting ${l.source.tag}: ${r.stderr}`);
  return dir;
}

interface Pull {
  registry: string;
  image: string;
}

async function startRegistry(): Promise<{ pull?: Pull; stop(): Promise<void>; skipped?: string }> {
  const tools = spawnSync("bash", [join(repoRoot, "scripts", "oci-tools.sh")], { encoding: "utf8" });
  if (tools.status !== 0) return { skipped: `OCI tools unavailable: ${tools.stderr.trim()}`, stop: async () => {} };
  const img = buildImage();
  const registry = await LocalRegistry.start();
  // The WasmPlugin's repository and tag; only the registry part differs (the Go side swaps it).
  const image = `${registry.host}/asm-llm-proxy/asm-llm-proxy:${img.tag}`;
  pushImage(img, image, true);
  return { pull: { registry: registry.host, image }, stop: () => registry.stop() };
}

async function main(argv: string[]): Promise<void> {
  const only = argv.includes("--line") ? argv[argv.indexOf("--line") + 1] : undefined;
  const lines = ISTIO_LINES.filter((l) => !only || l.line === only);
  if (lines.length === 0) throw new Error(`no Istio line ${only}; known: ${ISTIO_LINES.map((l) => l.line).join(", ")}`);
  run(process.execPath, [join(repoRoot, "scripts", "build.mjs"), "--if-needed"]);
  const digest = manifestsDigest();
  const reg = await startRegistry();
  try {
    for (const l of lines) {
      const src = extract(l);
      const out = goldenDir(l.line);
      rmSync(out, { recursive: true, force: true });
      console.error(`istio ${l.line} (${l.branch} ${l.commit}): building and rendering into ${out}`);
      run(
        "go",
        [
          "run",
          ".",
          "-manifests",
          join(repoRoot, "manifests"),
          "-out",
          out,
          "-istio-dir",
          src,
          "-istio-version",
          l.proxyVersion,
          ...(reg.pull ? ["-registry", reg.pull.registry, "-wasm", WASM] : []),
        ],
        { cwd: TOOL, env: goEnv(l.modfile) },
      );
      const meta: GoldenMeta = {
        line: l.line,
        istio: {
          branch: l.branch,
          commit: l.commit,
          source: l.source.kind === "proxy" ? l.source.module : `git tag ${l.source.tag}`,
          proxyVersion: l.proxyVersion,
        },
        manifestsSha256: digest.sha256,
        manifestFiles: digest.files,
        agentPull: reg.pull
          ? { image: reg.pull.image.replace(reg.pull.registry, "<local registry>"), moduleSha256: sha256File(WASM) }
          : { skipped: reg.skipped ?? "no registry" },
        renderedAt: new Date().toISOString(),
      };
      writeFileSync(join(out, "meta.json"), `${JSON.stringify(meta, null, 2)}\n`);
    }
  } finally {
    await reg.stop();
  }
  console.error(`done; the goldens are checked by tests/istiod-*.test.ts (regenerate with ${RENDER_COMMAND})`);
}

function sha256File(f: string): string {
  return createHash("sha256").update(readFileSync(f)).digest("hex");
}

main(process.argv.slice(2)).catch((e) => {
  console.error((e as Error).message);
  process.exit(1);
});
