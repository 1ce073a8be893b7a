// A local OCI registry for the image round trip: Debian's docker-registry (installed by
// scripts/oci-tools.sh) on a free loopback port, storage in a temporary directory; a plain
// fetch() client for its v2 API, so the image is read back by a different client than the
// skopeo that pushed it; a tar reader for the image's layer.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { repoRoot } from "../../repo/manifests";
import { freePort, inCI, sleep } from "./prometheus";

export const REGISTRY = process.env.DOCKER_REGISTRY_BIN ?? "/usr/bin/docker-registry";

/** Runs scripts/oci-tools.sh; ok → true; failed in CI → throws; failed elsewhere → warns, false. */
export function requireOciTools(): { available: boolean; message: string } {
  const r = spawnSync("bash", [join(repoRoot, "scripts", "oci-tools.sh")], { encoding: "utf8", timeout: 300_000 });
  const message = `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`.trim();
  if (r.status === 0) return { available: true, message };
  const msg = `OCI tools are not available (scripts/oci-tools.sh: ${message.split("\n").slice(-3).join(" / ")})`;
  if (inCI()) throw new Error(`${msg}; CI=true, so this fails instead of skipping`);
  console.warn(`\n${"!".repeat(78)}\n!! SKIPPING the image tests: ${msg}\n!! Run as root (apt-get install umoci skopeo docker-registry) to run them.\n${"!".repeat(78)}\n`);
  return { available: false, message };
}

export class LocalRegistry {
  private constructor(
    readonly proc: ChildProcess,
    /** host:port, as an image reference's registry part. */
    readonly host: string,
    private readonly dir: string,
    private readonly output: string[],
  ) {}

  static async start(): Promise<LocalRegistry> {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-registry-"));
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const host = `127.0.0.1:${await freePort()}`;
      const config = join(dir, "config.yml");
      writeFileSync(
        config,
        ["version: 0.1", "log:", "  level: warn", "storage:", "  filesystem:", `    rootdirectory: ${join(dir, "data")}`, "http:", `  addr: ${host}`, ""].join("\n"),
      );
      const output: string[] = [];
      const proc = spawn(REGISTRY, ["serve", config], { stdio: ["ignore", "pipe", "pipe"] });
      const killOnExit = () => proc.kill("SIGKILL");
      process.once("exit", killOnExit);
      proc.once("exit", () => process.off("exit", killOnExit));
      proc.stdout!.on("data", (d: Buffer) => output.push(d.toString()));
      proc.stderr!.on("data", (d: Buffer) => output.push(d.toString()));
      const registry = new LocalRegistry(proc, host, dir, output);
      try {
        await registry.waitReady(20_000);
        return registry;
      } catch (e) {
        lastError = e;
        await registry.stop(false);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  get log(): string {
    return this.output.join("");
  }

  private async waitReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`docker-registry exited with ${this.proc.exitCode}: ${this.log}`);
      try {
        if ((await fetch(`http://${this.host}/v2/`)).ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error(`docker-registry not ready after ${timeoutMs} ms: ${this.log}`);
  }

  /** GET /v2/<path>: status, headers and the body's bytes. */
  async get(path: string, accept?: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
    const r = await fetch(`http://${this.host}/v2/${path}`, accept ? { headers: { accept } } : undefined);
    return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
  }

  async stop(removeDir = true): Promise<void> {
    if (this.proc.exitCode === null && this.proc.signalCode === null) {
      const exited = new Promise<void>((resolve) => this.proc.once("exit", () => resolve()));
      this.proc.kill("SIGTERM");
      const timer = setTimeout(() => this.proc.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (removeDir) rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface TarEntry {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  data: Buffer;
}

/**
 * Reads a ustar archive: its entries, and whether it ends with the two zero blocks a complete
 * archive has (Istio's reader stops at plugin.wasm, so a truncated tar would pass it unnoticed).
 */
export function readTar(tar: Buffer): { entries: TarEntry[]; complete: boolean } {
  const entries: TarEntry[] = [];
  const octal = (b: Buffer) => parseInt(b.toString("latin1").replace(/\0.*$/s, "").trim() || "0", 8);
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) {
      const rest = tar.subarray(off);
      return { entries, complete: rest.length >= 1024 && rest.every((b) => b === 0) };
    }
    const size = octal(h.subarray(124, 136));
    entries.push({
      name: h.subarray(0, 100).toString("utf8").replace(/\0.*$/s, ""),
      type: String.fromCharCode(h[156] || 0x30),
      mode: octal(h.subarray(100, 108)),
      uid: octal(h.subarray(108, 116)),
      gid: octal(h.subarray(116, 124)),
      mtime: octal(h.subarray(136, 148)),
      data: tar.subarray(off + 512, off + 512 + size),
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return { entries, complete: false };
}
