// A server program the tests start themselves (Debian's prometheus, docker-registry): on a free
// loopback port, its files in a temporary directory, its output kept for error messages, killed
// with the test process if afterAll never runs, retried on another port when the first is
// taken between picking and binding.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { rmSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { repoRoot } from "../../repo/manifests";

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
export const inCI = (): boolean => /^(1|true|yes)$/i.test(process.env.CI ?? "");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs an installer script of scripts/ (debian-tools.sh behind it). Ok → available; failed in
 * CI → throws (a test that cannot run must not pass there); failed elsewhere → warns, and the
 * caller skips.
 */
export function requireTools(script: string, what: string, hint: string): { available: boolean; message: string; ms: number } {
  const t0 = Date.now();
  const r = spawnSync("bash", [join(repoRoot, "scripts", script)], { encoding: "utf8", timeout: 300_000 });
  const message = `${r.stderr ?? ""}${r.error ? String(r.error) : ""}`.trim();
  if (r.status === 0) return { available: true, message, ms: Date.now() - t0 };
  const msg = `${what} not available (scripts/${script}: ${message.split("\n").slice(-3).join(" / ")})`;
  if (inCI()) throw new Error(`${msg}; CI=true, so this fails instead of skipping`);
  console.warn(`\n${"!".repeat(78)}\n!! SKIPPING: ${msg}\n!! ${hint}\n${"!".repeat(78)}\n`);
  return { available: false, message, ms: Date.now() - t0 };
}

export class LoopbackServer {
  private constructor(
    readonly name: string,
    readonly proc: ChildProcess,
    /** 127.0.0.1:port */
    readonly address: string,
    private readonly dir: string,
    private readonly output: string[],
  ) {}

  /** Starts `command(address)` and waits until GET `readyPath` answers 2xx. */
  static async start(
    name: string,
    dir: string,
    command: (address: string) => [string, string[]],
    readyPath: string,
  ): Promise<LoopbackServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 3; attempt++) {
      const address = `127.0.0.1:${await freePort()}`;
      const [bin, args] = command(address);
      const output: string[] = [];
      const proc = spawn(bin, args, { stdio: ["ignore", "pipe", "pipe"] });
      const killOnExit = () => proc.kill("SIGKILL");
      process.once("exit", killOnExit);
      proc.once("exit", () => process.off("exit", killOnExit));
      proc.stdout!.on("data", (d: Buffer) => output.push(d.toString()));
      proc.stderr!.on("data", (d: Buffer) => output.push(d.toString()));
      const server = new LoopbackServer(name, proc, address, dir, output);
      try {
        await server.waitReady(readyPath, 20_000);
        return server;
      } catch (e) {
        lastError = e;
        await server.stop(false);
      }
    }
    rmSync(dir, { recursive: true, force: true });
    throw lastError;
  }

  get log(): string {
    return this.output.join("");
  }

  private async waitReady(path: string, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.proc.exitCode !== null) throw new Error(`${this.name} exited with ${this.proc.exitCode}: ${this.log}`);
      try {
        if ((await fetch(`http://${this.address}${path}`)).ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
    throw new Error(`${this.name} not ready after ${timeoutMs} ms: ${this.log}`);
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
