// `npm run image`: packs build/llmproxy.wasm into an OCI image that Istio's agent pulls for a
// WasmPlugin `url: oci://...`, as an OCI layout under build/oci, and prints the `url` and
// `sha256` to put in the WasmPlugin. With `--push <registry/repo:tag>` it also copies the image
// there with skopeo (`--insecure` for a plain-HTTP registry such as the tests' loopback one).
//
// Format: the *compat* variant (one `application/vnd.oci.image.layer.v1.tar+gzip` layer whose
// tar holds `plugin.wasm`), the one Istio's own extensions are shipped in. Istio's image fetcher
// (pkg/wasm/imagefetcher.go) tries it first; its other accepted format, the *oci* variant with a
// raw `application/vnd.module.wasm.content.layer.v1+wasm` layer, must have exactly two layers,
// which a single-file `oras push` does not produce.
//
// Tools: Debian's umoci builds the layout, skopeo pushes it (scripts/oci-tools.sh installs the
// ones the run needs: skopeo only with --push).
// Reproducible: the same wasm gives the same digest. File mtime and every `created` are
// SOURCE_DATE_EPOCH (default 0), the file is root-owned 0644, os/architecture are fixed
// (wasip1/wasm) instead of the build machine's, and the layout is made afresh each time.
import { spawnSync } from "node:child_process";
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../repo/manifests";

const WASM = join(repoRoot, "build", "llmproxy.wasm");
const DEFAULT_LAYOUT = join(repoRoot, "build", "oci");
/** The repository the WasmPlugin in manifests/ names; override with --repo or IMAGE_REPOSITORY. */
const DEFAULT_REPOSITORY = "ghcr.io/asm-llm-proxy/asm-llm-proxy";

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: 300_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status ?? r.error}): ${r.stderr}${r.stdout}`);
  return r.stdout;
}

export interface BuiltImage {
  layout: string;
  tag: string;
  /** Manifest digest, hex: what Istio compares the WasmPlugin's `sha256` with for an oci:// url. */
  digest: string;
}

export function buildImage(layout = DEFAULT_LAYOUT, tag = packageVersion()): BuiltImage {
  if (!existsSync(WASM)) throw new Error(`${WASM} missing: run npm run build first`);
  const epoch = Number(process.env.SOURCE_DATE_EPOCH ?? 0);
  if (!Number.isInteger(epoch) || epoch < 0)
    throw new Error(`SOURCE_DATE_EPOCH must be a non-negative integer, got ${process.env.SOURCE_DATE_EPOCH}`);
  const created = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
  const image = `${layout}:${tag}`;
  const work = mkdtempSync(join(tmpdir(), "asm-llm-proxy-image-"));
  try {
    rmSync(layout, { recursive: true, force: true });
    run("umoci", ["init", "--layout", layout]);
    run("umoci", ["new", "--image", image]);
    // unpack/repack rather than `umoci insert`: 0.4.7's insert writes a tar without its
    // end-of-archive blocks.
    const bundle = join(work, "bundle");
    const rootless = process.getuid?.() === 0 ? [] : ["--rootless"];
    run("umoci", ["unpack", ...rootless, "--image", image, bundle]);
    const rootfs = join(bundle, "rootfs");
    const plugin = join(rootfs, "plugin.wasm");
    copyFileSync(WASM, plugin);
    chmodSync(plugin, 0o644);
    utimesSync(plugin, epoch, epoch);
    utimesSync(rootfs, epoch, epoch);
    run("umoci", ["repack", "--image", image, "--history.created", created, "--history.created_by", "npm run image", bundle]);
    run("umoci", ["config", "--image", image, "--no-history", "--created", created, "--os", "wasip1", "--architecture", "wasm"]);
    run("umoci", ["gc", "--layout", layout]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
    manifests: { digest: string; annotations?: Record<string, string> }[];
  };
  const entry = index.manifests.find((m) => m.annotations?.["org.opencontainers.image.ref.name"] === tag);
  if (!entry) throw new Error(`tag ${tag} not in ${layout}/index.json`);
  return { layout, tag, digest: entry.digest.replace(/^sha256:/, "") };
}

/** Copies the layout's image to `dest` (registry/repo:tag) without changing its digest. */
export function pushImage(img: BuiltImage, dest: string, insecure: boolean): void {
  run("skopeo", [
    "copy",
    "--quiet",
    "--preserve-digests",
    ...(insecure ? ["--dest-tls-verify=false"] : []),
    `oci:${img.layout}:${img.tag}`,
    `docker://${dest}`,
  ]);
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
}

/** umoci (and skopeo to push) from Debian when missing; what is installed is said as it
 *  happens (scripts/debian-tools.sh prints to our stderr), and nothing the run does not use. */
function ensureTools(push: boolean): void {
  const r = spawnSync("bash", [join(repoRoot, "scripts", "oci-tools.sh"), push ? "push" : "build"], {
    stdio: ["ignore", "inherit", "inherit"],
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`scripts/oci-tools.sh failed (status ${r.status ?? r.error}): see the lines above`);
}

function main(argv: string[]): void {
  const opt = (name: string): string | undefined => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  ensureTools(opt("--push") !== undefined);
  const tag = opt("--tag") ?? packageVersion();
  const img = buildImage(opt("--out") ?? DEFAULT_LAYOUT, tag);
  const push = opt("--push");
  if (push) pushImage(img, push, argv.includes("--insecure"));
  const ref = push ?? `${opt("--repo") ?? process.env.IMAGE_REPOSITORY ?? DEFAULT_REPOSITORY}:${tag}`;
  console.error(`image: ${img.layout}:${tag}${push ? `, pushed to ${push}` : ""}`);
  console.log(`url: oci://${ref}`);
  console.log(`sha256: ${img.digest}`);
}

if (process.argv[1] && /scripts[\\/]image\.ts$/.test(process.argv[1])) {
  try {
    main(process.argv.slice(2));
  } catch (e) {
    console.error((e as Error).message);
    process.exit(1);
  }
}
