// `npm run image` (scripts/image.ts): the OCI image Istio's agent pulls for `url: oci://...`.
// Built twice, it has the same digest; its one layer holds build/llmproxy.wasm as plugin.wasm
// (the compat variant Istio's pkg/wasm/imagefetcher.go reads); pushed with skopeo to a local
// docker-registry and read back over the registry's v2 API with fetch(), the manifest digest is
// the printed sha256 and the wasm is byte-identical.
// Without root / apt the tests are skipped loudly, except in CI (CI=true), where they fail.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, wasmPluginSpec } from "../repo/manifests";
import { LocalRegistry, readTar, requireOciTools } from "./helpers/registry";

const { available, message } = requireOciTools();
const WASM = readFileSync(join(repoRoot, "build", "llmproxy.wasm"));
const VERSION = (JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string }).version;
const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip";

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}
interface Manifest {
  schemaVersion: number;
  mediaType?: string;
  config: Descriptor;
  layers: Descriptor[];
}

/** Runs the image script as `npm run image` does (the wasm is built by `npm test` already). */
function image(args: string[], env: Record<string, string> = {}): { url: string; sha256: string; ms: number } {
  const t0 = Date.now();
  // the defaults under test, whatever the caller's shell sets
  const { IMAGE_REPOSITORY: _repo, SOURCE_DATE_EPOCH: _epoch, ...inherited } = process.env;
  const r = spawnSync(join(repoRoot, "node_modules", ".bin", "tsx"), [join(repoRoot, "scripts", "image.ts"), ...args], {
    encoding: "utf8",
    timeout: 120_000,
    env: { ...inherited, ...env },
  });
  expect(r.status, `${r.stderr}${r.stdout}`).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines).toHaveLength(2);
  const [url, digest] = [/^url: (\S+)$/.exec(lines[0])?.[1], /^sha256: ([0-9a-f]{64})$/.exec(lines[1])?.[1]];
  expect(url, r.stdout).toBeDefined();
  expect(digest, r.stdout).toBeDefined();
  return { url: url!, sha256: digest!, ms: Date.now() - t0 };
}

const blob = (layout: string, digest: string) => readFileSync(join(layout, "blobs", "sha256", digest.replace(/^sha256:/, "")));
const blobs = (layout: string) => Object.fromEntries(readdirSync(join(layout, "blobs", "sha256")).map((d) => [d, blob(layout, d)]));

describe.skipIf(!available)(`npm run image (${message.split("\n").at(-1)})`, () => {
  const dirs: string[] = [];
  const tmp = () => {
    const d = mkdtempSync(join(tmpdir(), "asm-llm-proxy-oci-"));
    dirs.push(d);
    return join(d, "oci");
  };
  let layout: string;
  let built: ReturnType<typeof image>;
  let registry: LocalRegistry | undefined;

  beforeAll(() => {
    layout = tmp();
    built = image(["--out", layout]);
  });
  afterAll(async () => {
    await registry?.stop();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it("prints the WasmPlugin url (tag = package version) and the manifest digest as sha256", () => {
    expect(built.url).toBe(`oci://ghcr.io/asm-llm-proxy/asm-llm-proxy:${VERSION}`);
    expect(built.url).toBe(wasmPluginSpec().url);
    const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8")) as {
      manifests: (Descriptor & { annotations: Record<string, string> })[];
    };
    expect(index.manifests).toHaveLength(1);
    expect(index.manifests[0]).toMatchObject({
      mediaType: OCI_MANIFEST,
      digest: `sha256:${built.sha256}`,
      annotations: { "org.opencontainers.image.ref.name": VERSION },
    });
    expect(sha256(blob(layout, built.sha256))).toBe(built.sha256);
  });

  it("is reproducible: a second build is the same, blob for blob; another SOURCE_DATE_EPOCH is not", () => {
    const again = tmp();
    const second = image(["--out", again]);
    expect(second.sha256).toBe(built.sha256);
    expect(blobs(again)).toEqual(blobs(layout));
    const dated = image(["--out", tmp()], { SOURCE_DATE_EPOCH: "1700000000" });
    expect(dated.sha256).not.toBe(built.sha256);
    console.info(`image digest ${built.sha256} (first build ${built.ms} ms, second ${second.ms} ms)`);
  });

  it("has the compat layout Istio reads: one tar+gzip layer holding plugin.wasm, the release module", () => {
    const manifest = JSON.parse(blob(layout, built.sha256).toString("utf8")) as Manifest;
    expect(manifest.schemaVersion).toBe(2);
    expect(manifest.layers.map((l) => l.mediaType)).toEqual([OCI_LAYER]);
    const layer = blob(layout, manifest.layers[0].digest);
    expect(sha256(layer)).toBe(manifest.layers[0].digest.slice("sha256:".length));
    const tar = readTar(gunzipSync(layer));
    expect(tar.complete).toBe(true);
    expect(tar.entries.map(({ name, type, mode, uid, gid, mtime }) => ({ name, type, mode, uid, gid, mtime }))).toEqual([
      { name: "plugin.wasm", type: "0", mode: 0o644, uid: 0, gid: 0, mtime: 0 },
    ]);
    expect(Buffer.compare(tar.entries[0].data, WASM)).toBe(0);
    const config = JSON.parse(blob(layout, manifest.config.digest).toString("utf8")) as Record<string, unknown>;
    expect(config).toMatchObject({ created: "1970-01-01T00:00:00Z", os: "wasip1", architecture: "wasm" });
  });

  it("round trip: pushed with skopeo to a loopback registry, read back over its v2 API, same digest and bytes", async () => {
    registry = await LocalRegistry.start();
    const t0 = Date.now();
    const ref = `${registry.host}/asm-llm-proxy:${VERSION}`;
    const pushed = image(["--out", tmp(), "--push", ref, "--insecure"]);
    expect(pushed).toMatchObject({ url: `oci://${ref}`, sha256: built.sha256 });

    const byTag = await registry.get(`asm-llm-proxy/manifests/${VERSION}`, OCI_MANIFEST);
    expect(byTag.status).toBe(200);
    expect(byTag.headers.get("docker-content-digest")).toBe(`sha256:${built.sha256}`);
    expect(sha256(byTag.body)).toBe(built.sha256);
    expect(Buffer.compare(byTag.body, blob(layout, built.sha256))).toBe(0);
    // what a WasmPlugin pinned as url: oci://...@sha256:<digest> fetches
    const byDigest = await registry.get(`asm-llm-proxy/manifests/sha256:${built.sha256}`, OCI_MANIFEST);
    expect(byDigest.status).toBe(200);

    const manifest = JSON.parse(byTag.body.toString("utf8")) as Manifest;
    const layer = await registry.get(`asm-llm-proxy/blobs/${manifest.layers[0].digest}`);
    expect(layer.status).toBe(200);
    expect(Buffer.compare(layer.body, blob(layout, manifest.layers[0].digest))).toBe(0);
    const [plugin] = readTar(gunzipSync(layer.body)).entries;
    expect(plugin.name).toBe("plugin.wasm");
    expect(sha256(plugin.data)).toBe(sha256(WASM));
    expect(Buffer.compare(plugin.data, WASM)).toBe(0);

    const missing = await registry.get(`asm-llm-proxy/manifests/sha256:${"0".repeat(64)}`, OCI_MANIFEST);
    expect(missing.status).toBe(404);
    console.info(`registry round trip ${Date.now() - t0} ms`);
  });
});
