// manifests/examples/envoyfilter-decompressor.yaml in real Envoy (both pinned versions): its
// patches applied to the sidecar bootstrap as Istio applies them (each decompressor inserted
// before the router, so after the Wasm filter), then gzip, brotli and zstd answers, JSON and SSE
// in several TCP pieces: Envoy decodes them, the filter counts them exactly, and the client
// receives identity (the trade-off the manifest documents). Request bodies pass undecoded.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import zlib from "node:zlib";
import { parse as parseYaml } from "yaml";
import { sidecarBootstrap } from "../envoy/bootstrap";
import { startEnvoy, type EnvoyProcess } from "../envoy/process";
import { ensureEnvoy } from "../envoy/install";
import { repoRoot } from "../repo/manifests";
import { ENVOYS, filterState, send } from "./helpers/envoy";
import { cut } from "./helpers/harness";
import { openaiJson, openaiSse, JSON_HEADERS, SSE_HEADERS } from "./helpers/bodies";
import { ScriptedUpstream } from "./helpers/scripted-upstream";

type Json = Record<string, any>;
const MANIFEST = join(repoRoot, "manifests", "examples", "envoyfilter-decompressor.yaml");

/** The EnvoyFilter's HTTP_FILTER patches, applied to every HTTP connection manager of the
 *  bootstrap the way Istio applies INSERT_BEFORE of a subFilter (only what this manifest uses). */
function applyEnvoyFilter(bootstrap: Json, envoyFilter: Json): Json {
  const out = structuredClone(bootstrap);
  for (const l of out.static_resources.listeners)
    for (const chain of l.filter_chains)
      for (const f of chain.filters) {
        if (f.name !== "envoy.filters.network.http_connection_manager") continue;
        const filters: Json[] = f.typed_config.http_filters;
        for (const p of envoyFilter.spec.configPatches) {
          expect(p.applyTo).toBe("HTTP_FILTER");
          expect(p.patch.operation).toBe("INSERT_BEFORE");
          const at = filters.findIndex((h) => h.name === p.match.listener.filterChain.filter.subFilter.name);
          expect(at).toBeGreaterThan(0);
          filters.splice(at, 0, p.patch.value);
        }
      }
  return out;
}

const zstd = (b: Buffer) => execFileSync("zstd", ["-q", "-c"], { input: b });
const CODERS: Record<string, (b: Buffer) => Buffer> = { gzip: zlib.gzipSync, br: zlib.brotliCompressSync, zstd };

let upstream: ScriptedUpstream;
let answer = { coding: "gzip", sse: true, body: Buffer.alloc(0) };
const envoys: { version: string; envoy: EnvoyProcess; log: string; dir: string }[] = [];

beforeAll(async () => {
  upstream = await new ScriptedUpstream(() => {
    const sent = CODERS[answer.coding](answer.body);
    return {
      status: 200,
      headers: [...(answer.sse ? SSE_HEADERS : JSON_HEADERS), ["content-encoding", answer.coding]],
      pieces: cut(sent, [5, sent.length >> 1]).filter((p) => p.length > 0),
      gapMs: 2,
    };
  }).listen();
  const envoyFilter = parseYaml(readFileSync(MANIFEST, "utf8"));
  const port = Number(new URL(upstream.url).port);
  for (const version of ENVOYS) {
    const dir = mkdtempSync(join(tmpdir(), "asm-llm-decompressor-"));
    const log = join(dir, "access.log");
    const bootstrap = sidecarBootstrap({
      wasmFile: join(repoRoot, "build", "llmproxy.wasm"),
      upstream: { kind: "plain", address: "127.0.0.1", port },
      proxyPort: 0,
      adminPort: 0,
      accessLogPath: log,
      pluginConfig: "{}",
    });
    const envoy = await startEnvoy({
      binary: await ensureEnvoy(version),
      bootstrap: applyEnvoyFilter(bootstrap, envoyFilter),
      concurrency: 1,
      fileFlushMs: 50,
    });
    envoys.push({ version, envoy, log, dir });
  }
});

afterAll(async () => {
  for (const e of envoys) {
    await e.envoy.stop();
    rmSync(e.dir, { recursive: true, force: true });
  }
  await upstream?.close();
});

async function lastLog(path: string, n: number): Promise<Json> {
  for (let i = 0; i < 200; i++) {
    const lines = existsSync(path) ? readFileSync(path, "utf8").split("\n").slice(0, -1).filter(Boolean) : [];
    if (lines.length >= n) return JSON.parse(lines[n - 1]);
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no access-log line ${n}`);
}

describe("Envoy's decompressor ahead of the filter (manifests/examples/envoyfilter-decompressor.yaml)", () => {
  it("gzip, brotli and zstd answers, JSON and SSE: decoded by Envoy, counted by the filter, identity to the client", async () => {
    const json = Buffer.from(openaiJson("gpt-4o-mini", { prompt: 17, completion: 5 }));
    const sse = Buffer.from(openaiSse("gpt-4o-mini", { prompt: 23, completion: 9 }, { words: 9 }));
    for (const e of envoys) {
      let n = 0;
      for (const coding of Object.keys(CODERS)) {
        for (const [isSse, body, tokens] of [
          [false, json, [17, 5]],
          [true, sse, [23, 9]],
        ] as const) {
          answer = { coding, sse: isSse, body };
          const res = await send(e.envoy.proxyUrl, {
            authority: "api.openai.com",
            path: "/v1/chat/completions",
            headers: { "content-type": "application/json", "accept-encoding": "gzip, deflate, br" },
            body: [JSON.stringify({ model: "gpt-4o-mini", stream: isSse, messages: [] })],
          });
          const what = `${e.version} ${coding} ${isSse ? "sse" : "json"}`;
          expect(res.status, what).toBe(200);
          expect(res.headers["content-encoding"], what).toBeUndefined();
          expect(res.body.equals(body), `${what}: the client gets the decoded body`).toBe(true);
          const state = filterState(await lastLog(e.log, ++n));
          expect([Number(state.request_prompt_tokens), Number(state.request_completion_tokens)], what).toEqual(tokens);
        }
      }
      // The filter narrowed accept-encoding to gzip, deflate; each decompressor then added its
      // own coding (Envoy rewrites the list: "deflate,gzip,br,zstd"), so the upstream may
      // answer in any of them and Envoy decodes it.
      const offered = String(upstream.received.at(-1)!.headers["accept-encoding"])
        .split(",")
        .map((c) => c.trim());
      expect(offered.sort(), e.version).toEqual(["br", "deflate", "gzip", "zstd"]);
      // A gzip'd request body reaches the upstream as the client sent it.
      const gzBody = zlib.gzipSync(JSON.stringify({ model: "gpt-4o-mini", messages: [] }));
      answer = { coding: "gzip", sse: false, body: json };
      await send(e.envoy.proxyUrl, {
        authority: "api.openai.com",
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json", "content-encoding": "gzip" },
        body: [gzBody],
      });
      expect(upstream.received.at(-1)!.body.equals(gzBody), e.version).toBe(true);
      expect(upstream.received.at(-1)!.headers["content-encoding"], e.version).toBe("gzip");
    }
  });
});
