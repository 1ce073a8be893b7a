// A local OCI registry for the image round trip: Debian's docker-registry (installed by
// scripts/oci-tools.sh) on a free loopback port, storage in a temporary directory; a plain
// fetch() client for its v2 API, so the image is read back by a different client than the
// skopeo that pushed it; a tar reader for the image's layer.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LoopbackServer, requireTools } from "./loopback-server";

export const REGISTRY = process.env.DOCKER_REGISTRY_BIN ?? "/usr/bin/docker-registry";

/** scripts/oci-tools.sh (umoci, skopeo, docker-registry): available, or skip (fail in CI). */
export function requireOciTools(): { available: boolean; message: string } {
  return requireTools(
    "oci-tools.sh",
    "OCI tools are",
    "Run as root (apt-get install umoci skopeo docker-registry) to run the image tests.",
  );
}

export class LocalRegistry {
  private constructor(private readonly server: LoopbackServer) {}

  /** host:port, as an image reference's registry part. */
  get host(): string {
    return this.server.address;
  }

  get log(): string {
    return this.server.log;
  }

  static async start(): Promise<LocalRegistry> {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-registry-"));
    const server = await LoopbackServer.start(
      "docker-registry",
      dir,
      (address) => {
        const config = join(dir, "config.yml");
        writeFileSync(
          config,
          [
            "version: 0.1",
            "log:",
            "  level: warn",
            "storage:",
            "  filesystem:",
            `    rootdirectory: ${join(dir, "data")}`,
            "http:",
            `  addr: ${address}`,
            "",
          ].join("\n"),
        );
        return [REGISTRY, ["serve", config]];
      },
      "/v2/",
    );
    return new LocalRegistry(server);
  }

  /** GET /v2/<path>: status, headers and the body's bytes. */
  async get(path: string, accept?: string): Promise<{ status: number; headers: Headers; body: Buffer }> {
    const r = await fetch(`http://${this.host}/v2/${path}`, accept ? { headers: { accept } } : undefined);
    return { status: r.status, headers: r.headers, body: Buffer.from(await r.arrayBuffer()) };
  }

  stop(removeDir = true): Promise<void> {
    return this.server.stop(removeDir);
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
