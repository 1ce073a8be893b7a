// The inflater's cost (issue 18): throughput of assembly/compress/inflate.ts (the probe module
// build/inflate-probe.wasm) against node:zlib on the same bytes in the same run, the added
// cost of a gzip'd 1,000-event stream through the filter in the TypeScript host against the
// same stream in identity, and the filter module's size with and without the inflater (the
// base: the commit before assembly/compress/inflate.ts was added, built here with the same
// flags). Interleaved rounds, medians.
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import zlib from "node:zlib";
import { main as asc } from "assemblyscript/asc";
import { InflateProbe, Wrap } from "../tests/helpers/inflate-probe";
import { sidecar } from "../tests/helpers/sidecar";
import { buildWorkloads, FULL_SIZES, QUICK_SIZES, type Workload } from "./workloads";
import { median } from "./median";

export interface InflateCorpus {
  name: string;
  compressedBytes: number;
  inflatedBytes: number;
  /** Inflated MB (10^6 bytes) per second. */
  oursMBps: number;
  nodeMBps: number;
}

export interface InflateBenchResult {
  corpora: InflateCorpus[];
  stream: { name: string; events: number; identityUs: number; gzipUs: number; counted: boolean } | null;
  size: { baseRef: string; before: number; after: number } | null;
}

const CHUNK = 16 * 1024;

function time(fn: () => void, minMs: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  do {
    fn();
    n++;
    t = performance.now();
  } while (t - t0 < minMs);
  return (t - t0) / n;
}

/** The body gzip'd as a streaming provider sends it: one sync flush per event. */
async function gzipPerEvent(chunks: Uint8Array[]): Promise<Buffer[]> {
  const gz = zlib.createGzip();
  const out: Buffer[] = [];
  let pending: Buffer[] = [];
  gz.on("data", (b: Buffer) => pending.push(b));
  const ended = once(gz, "end");
  for (const c of chunks) {
    gz.write(c);
    await new Promise<void>((r) => gz.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
    out.push(Buffer.concat(pending));
    pending = [];
  }
  gz.end();
  await ended;
  out.push(Buffer.concat(pending));
  return out.filter((b) => b.length > 0);
}

async function moduleSizes(root: string): Promise<InflateBenchResult["size"]> {
  const added = execFileSync("git", ["log", "--diff-filter=A", "--format=%H", "-1", "--", "assembly/compress/inflate.ts"], { cwd: root })
    .toString()
    .trim();
  if (!added) return null;
  const baseRef = `${added.slice(0, 12)}^`;
  const dir = join(root, "build", "size-base");
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  execFileSync("sh", ["-c", `git archive ${baseRef} assembly | tar -x -C ${dir}`], { cwd: root });
  const out = join(dir, "llmproxy.wasm");
  const { error, stderr } = await asc([
    join(dir, "assembly/index.ts"),
    "--config",
    join(root, "asconfig.json"),
    "--target",
    "release",
    "--outFile",
    out,
  ]);
  if (error) throw new Error(`building ${baseRef}: ${stderr.toString().slice(0, 400)}`);
  const before = statSync(out).size;
  rmSync(dir, { recursive: true, force: true });
  return { baseRef, before, after: statSync(join(root, "build", "llmproxy.wasm")).size };
}

export async function inflateBench(root: string, quick: boolean, log: (l: string) => void): Promise<InflateBenchResult> {
  const rounds = quick ? 3 : 11;
  const minMs = quick ? 5 : 60;
  const probe = await InflateProbe.load(root);
  const workloads = buildWorkloads(quick ? QUICK_SIZES : FULL_SIZES);
  const sse = workloads.find((w) => w.name === `sse-openai-${(quick ? QUICK_SIZES : FULL_SIZES).events}`) as Workload;
  const large = workloads.filter((w) => w.large && w.llm)[0];
  const corpora: InflateCorpus[] = [];
  const inputs: [string, Buffer, Wrap, () => Buffer][] = [];
  for (const [name, body] of [
    [sse.name, sse.responseBody],
    [large?.name ?? "none", large?.requestBody],
  ] as const) {
    if (!body) continue;
    const gz = zlib.gzipSync(body);
    const z = zlib.deflateSync(body);
    inputs.push([`${name} gzip`, gz, Wrap.Gzip, () => zlib.gunzipSync(gz)]);
    inputs.push([`${name} deflate (zlib)`, z, Wrap.Deflate, () => zlib.inflateSync(z)]);
  }
  for (const [name, input, wrap, nodeInflate] of inputs) {
    const splits = Array(Math.ceil(input.length / CHUNK)).fill(CHUNK);
    const check = probe.inflate(wrap, input, splits);
    if (!check.ok || !check.output.equals(nodeInflate())) throw new Error(`inflate bench: ${name} does not round-trip`);
    const outBytes = check.output.length;
    const ours: number[] = [];
    const node: number[] = [];
    for (let r = 0; r < rounds; r++) {
      ours.push(outBytes / 1e6 / (time(() => probe.inflate(wrap, input, splits, false), minMs) / 1000));
      node.push(outBytes / 1e6 / (time(nodeInflate, minMs) / 1000));
    }
    corpora.push({ name, compressedBytes: input.length, inflatedBytes: outBytes, oursMBps: median(ours), nodeMBps: median(node) });
    log(`inflate: ${name}: ours ${median(ours).toFixed(0)} MB/s, node:zlib ${median(node).toFixed(0)} MB/s`);
  }

  // One gzip'd stream through the filter (TypeScript host), against the same stream in identity.
  const s = await sidecar({ pluginConfig: "{}" });
  const gzChunks = await gzipPerEvent(sse.responseChunks);
  // The workload's header lists carry the pseudo-headers; an Exchange names them apart.
  const plain = (h: [string, string][]) => h.filter(([k]) => !k.startsWith(":"));
  const exchange = (gzip: boolean) => ({
    request: {
      method: "POST",
      path: "/v1/chat/completions",
      authority: "api.openai.com",
      headers: plain(sse.requestHeaders),
      body: sse.requestChunks,
    },
    response: {
      status: 200,
      headers: gzip ? [...plain(sse.responseHeaders), ["content-encoding", "gzip"] as [string, string]] : plain(sse.responseHeaders),
      body: gzip ? gzChunks : sse.responseChunks,
    },
  });
  const counted = [false, true].every((gz) => {
    const r = s.call(exchange(gz));
    return r.filterState["wasm.asm.llmproxy.request_completion_tokens"] === String(sse.expect?.completion);
  });
  const identity: number[] = [];
  const gzip: number[] = [];
  for (let r = 0; r < rounds; r++) {
    identity.push(time(() => s.call(exchange(false)), minMs) * 1000);
    gzip.push(time(() => s.call(exchange(true)), minMs) * 1000);
  }
  const stream = { name: sse.name, events: sse.events ?? 0, identityUs: median(identity), gzipUs: median(gzip), counted };
  log(`inflate: ${sse.name} through the host: identity ${stream.identityUs.toFixed(0)} us, gzip ${stream.gzipUs.toFixed(0)} us`);

  // The size needs one more compile: full runs only.
  let size: InflateBenchResult["size"] = null;
  try {
    if (!quick) size = await moduleSizes(root);
  } catch (e) {
    log(`inflate: module size before the inflater not measured: ${(e as Error).message}`);
  }
  return { corpora, stream, size };
}

const kb = (n: number) => `${(n / 1024).toFixed(0)} KiB`;

export function renderInflate(r: InflateBenchResult, table: (head: string[], rows: string[][]) => string): string {
  const parts = ["\n### Inflate (gzip / deflate responses)\n"];
  parts.push(
    table(
      ["body", "compressed", "inflated", "ours (MB/s)", "node:zlib (MB/s)", "ours / node:zlib"],
      r.corpora.map((c) => [
        c.name,
        kb(c.compressedBytes),
        kb(c.inflatedBytes),
        c.oursMBps.toFixed(0),
        c.nodeMBps.toFixed(0),
        (c.oursMBps / c.nodeMBps).toFixed(2),
      ]),
    ),
  );
  if (r.stream) {
    const s = r.stream;
    parts.push(
      `\nA ${s.events}-event OpenAI stream through the filter in the TypeScript host, end to end per stream: identity ${s.identityUs.toFixed(0)} µs, gzip (one sync flush per event) ${s.gzipUs.toFixed(0)} µs: +${(s.gzipUs - s.identityUs).toFixed(0)} µs (${((s.gzipUs / s.identityUs - 1) * 100).toFixed(0)} %); both counted exactly: ${s.counted ? "yes" : "**no**"}.`,
    );
  }
  if (r.size) {
    const z = r.size;
    parts.push(
      `\nModule size: ${z.before} bytes before the inflater (${z.baseRef}, built in this run), ${z.after} bytes now: +${z.after - z.before} bytes (+${(((z.after - z.before) / z.before) * 100).toFixed(1)} %).`,
    );
  }
  parts.push(
    "\nours = assembly/compress/inflate.ts alone (build/inflate-probe.wasm, release flags), fed 16 KiB chunks, output counted not copied out, CRC-32/Adler-32 checked; node:zlib = zlib.gunzipSync / inflateSync of the whole body (native zlib, same machine, same run). MB/s of inflated output.",
  );
  return parts.join("\n") + "\n";
}
