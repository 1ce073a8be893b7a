// The path non-Istio Envoy users take: Envoy fetches the module itself (vm_config.code.remote,
// HTTP with sha256) from a server, here one on loopback serving build/llmproxy.wasm.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServer, type Server } from "node:http";
import { readFileSync } from "node:fs";
import { createHash } from "node:crypto";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { repoRoot } from "../repo/manifests";
import { startEnvoySidecar } from "../local/envoy-sidecar";
import { DEFAULT_MOCK_KEY } from "../local/options";
import { ENVOYS } from "./helpers/envoy";
import { seedCurl } from "./helpers/local";

const wasm = readFileSync(join(repoRoot, "build", "llmproxy.wasm"));
const sha256 = createHash("sha256").update(wasm).digest("hex");
let server: Server;
let fetches = 0;
let url = "";

beforeAll(async () => {
  server = createServer((_req, res) => {
    fetches++;
    res.writeHead(200, { "content-type": "application/wasm" });
    res.end(wasm);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/llmproxy.wasm`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

describe.each(ENVOYS)("Envoy %s loads the module over HTTP (code.remote)", (version) => {
  it("with the right sha256: the seed's request is routed and counted", async () => {
    const before = fetches;
    const s = await startEnvoySidecar({
      envoyVersion: version,
      port: 0,
      adminPort: 0,
      wasmRemote: { url, sha256 },
      vmEnv: { DASHSCOPE_API_KEY: DEFAULT_MOCK_KEY },
    });
    try {
      expect(fetches).toBeGreaterThan(before);
      const r = await seedCurl(s.proxyUrl, true);
      expect(r.status).toBe(200);
      expect(JSON.parse(r.body)).toMatchObject({ model: "qwen-turbo", usage: { prompt_tokens: 11, completion_tokens: 85 } });
    } finally {
      await s.close();
    }
  });

  it("with a wrong sha256: the plugin fails to load and, under the manifest's FAIL_OPEN, requests go out unfiltered", async () => {
    const s = await startEnvoySidecar({
      envoyVersion: version,
      port: 0,
      adminPort: 0,
      wasmRemote: { url, sha256: "0".repeat(64) },
      vmEnv: { DASHSCOPE_API_KEY: DEFAULT_MOCK_KEY },
    });
    try {
      expect(s.envoy.logs.some((l) => /Plugin default\.asm-llm-proxy~istio-translated-wasmplugin failed to load/.test(l))).toBe(true);
      const r = await seedCurl(s.proxyUrl, false);
      // No filter: no path rewrite, so the mock answers 404 at "/".
      expect(r.status).toBe(404);
    } finally {
      await s.close();
    }
  });
});
