// The filter on both sides of one mesh call, in real Envoy (both pinned versions): a client
// sidecar (the `sleep` workload's outbound listener, envoy/bootstrap.ts) originating Istio
// mutual TLS with sleep's certificate, and a model server's sidecar (envoy/server-bootstrap.ts:
// the inbound listener of manifests/examples/wasmplugin-server.yaml, terminating that mTLS) in
// front of the mock LLM. Certificates are made here with openssl, each with its workload's
// SPIFFE ID as URI SAN. The server's series name the caller by the SPIFFE ID of its client
// certificate (its workload from a stand-in for Istio's peer metadata) and the server itself as
// destination; the client's name sleep from node metadata.
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sidecarBootstrap } from "../envoy/bootstrap";
import { ensureEnvoy } from "../envoy/install";
import { startEnvoy, type EnvoyProcess } from "../envoy/process";
import { INBOUND_LISTENER, serverSidecarBootstrap, withIstioMutualTls } from "../envoy/server-bootstrap";
import { MockLlm } from "../local/mock-llm";
import { DEFAULT_MOCK_KEY } from "../local/options";
import { repoRoot } from "../repo/manifests";
import { ENVOYS, send } from "./helpers/envoy";
import { scrape, type Series } from "./helpers/local";
import { meshCa, type MeshCa } from "./helpers/mesh-certs";

const CLIENT_ID = "spiffe://cluster.local/ns/default/sa/sleep";
const SERVER_ID = "spiffe://cluster.local/ns/default/sa/model-server";
const SERVICE = "model-server.default.svc.cluster.local:8000";
const BODY = JSON.stringify({ model: "qwen-plus", messages: [{ role: "user", content: "Which workload is calling?" }] });
const STREAM = JSON.stringify({
  model: "qwen-plus",
  stream: true,
  stream_options: { include_usage: true },
  messages: [{ role: "user", content: "Stream it" }],
});
const WASM = join(repoRoot, "build", "llmproxy.wasm");

describe.each(ENVOYS)("a model server's inbound sidecar and its caller's, with mTLS, in Envoy %s", (version) => {
  let ca: MeshCa;
  let mock: MockLlm;
  let server: EnvoyProcess;
  let client: EnvoyProcess;
  let logDir: string;

  beforeAll(async () => {
    const binary = await ensureEnvoy(version);
    ca = meshCa();
    logDir = mkdtempSync(join(tmpdir(), "asm-llm-mesh-"));
    mock = await new MockLlm({ apiKey: DEFAULT_MOCK_KEY, streamDelayMs: 0 }).listen(0);
    const mockPort = Number(new URL(mock.url).port);
    server = await startEnvoy({
      binary,
      listenerName: INBOUND_LISTENER,
      bootstrap: serverSidecarBootstrap({
        wasmFile: WASM,
        app: { address: "127.0.0.1", port: mockPort },
        inboundPort: 0,
        adminPort: 0,
        tls: ca.issue("model-server", SERVER_ID),
        workload: "model-server",
        namespace: "default",
        serviceAccount: "model-server",
        statsFlushMs: 1000,
        // What Istio's metadata exchange would leave (serialized as Istio's baggage).
        peerMetadata: "cluster=Kubernetes,namespace=default,workload=sleep,service=sleep,revision=latest,type=deployment,name=sleep-7d9f",
        // The example's pluginConfig plus the API key label and both metric families, and
        // `direction` left to auto: the filter must learn from Envoy's listener_direction
        // (the listener's traffic_direction INBOUND) that it runs on the inbound side.
        pluginConfig: JSON.stringify({
          metricNames: "both",
          identity: { serviceAccount: true, principal: true, apiKeyHash: true, trustDomain: "cluster.local" },
        }),
      }),
    });
    const serverPort = Number(new URL(server.proxyUrl).port);
    client = await startEnvoy({
      binary,
      bootstrap: withIstioMutualTls(
        sidecarBootstrap({
          wasmFile: WASM,
          upstream: { kind: "plain", address: "127.0.0.1", port: serverPort },
          proxyPort: 0,
          adminPort: 0,
          accessLogPath: join(logDir, "client.log"),
          workload: "sleep",
          namespace: "default",
          pluginConfig: JSON.stringify({ identity: { serviceAccount: true, principal: true } }),
        }),
        ca.issue("sleep", CLIENT_ID),
      ),
    });
    for (const body of [BODY, STREAM]) {
      const r = await send(client.proxyUrl, {
        authority: SERVICE,
        path: "/v1/chat/completions",
        headers: { "content-type": "application/json", authorization: `Bearer ${DEFAULT_MOCK_KEY}` },
        body: [body],
      });
      expect(r.status, r.body.toString()).toBe(200);
    }
  }, 120_000);

  afterAll(async () => {
    await client?.stop();
    await server?.stop();
    await mock?.close();
    if (ca) rmSync(ca.dir, { recursive: true, force: true });
    if (logDir) rmSync(logDir, { recursive: true, force: true });
  });

  const tokenSeries = async (p: EnvoyProcess) => (await scrape(p.adminUrl)).filter((s) => s.name === "asm_llm_proxy_prompt_tokens");

  it("the server's series: the caller's SPIFFE ID and service account from its certificate, the server as destination", async () => {
    const series = await tokenSeries(server);
    expect(series.map((s) => s.labels)).toEqual([
      {
        llmproxy_source_workload: "sleep", // from the stand-in for Istio's peer metadata
        llmproxy_source_workload_namespace: "default",
        llmproxy_destination_service: "model-server.default",
        llmproxy_model: "qwen-plus",
        llmproxy_source_service_account: "sleep",
        llmproxy_source_principal: CLIENT_ID,
        llmproxy_api_key_hash: createHash("sha256").update(DEFAULT_MOCK_KEY).digest("hex").slice(0, 12),
      },
    ]);
  });

  it("the client's series: sleep from node metadata, the service as destination; both sides count the same tokens", async () => {
    const series = await tokenSeries(client);
    expect(series.map((s) => s.labels)).toEqual([
      {
        llmproxy_source_workload: "sleep",
        llmproxy_source_workload_namespace: "default",
        llmproxy_destination_service: "model-server.default.svc.cluster.local",
        llmproxy_model: "qwen-plus",
        llmproxy_source_service_account: "sleep",
        llmproxy_source_principal: CLIENT_ID,
      },
    ]);
    const server_ = await tokenSeries(server);
    expect(series[0].value).toBeGreaterThan(0);
    expect(server_[0].value).toBe(series[0].value);
  });

  it("the server publishes the OpenTelemetry families too, its duration as gen_ai_server_request_duration", async () => {
    let series: Series[] = [];
    const deadline = Date.now() + 10_000;
    const count = (name: string) => series.filter((s) => s.name === name).reduce((n, s) => n + s.value, 0);
    do {
      series = await scrape(server.adminUrl);
      if (count("gen_ai_server_request_duration_milliseconds_count") >= 2) break;
      await new Promise((r) => setTimeout(r, 250));
    } while (Date.now() < deadline);
    expect(count("gen_ai_server_request_duration_milliseconds_count")).toBe(2);
    expect(count("gen_ai_client_operation_duration_milliseconds_count")).toBe(0);
    const input = series.find((s) => s.name === "gen_ai_client_token_usage_sum" && s.labels.gen_ai_token_type === "input")!;
    expect(input.labels).toMatchObject({
      server_address: "model-server.default",
      llmproxy_source_principal: CLIENT_ID,
      gen_ai_request_model: "qwen-plus",
    });
  });

  it("the server's listener refuses a caller without a client certificate", async () => {
    const port = Number(new URL(server.proxyUrl).port);
    const outcome = await new Promise<string>((resolve) => {
      const socket = connect({ host: "127.0.0.1", port, ca: [], rejectUnauthorized: false });
      socket.on("secureConnect", () => {
        socket.write(
          `POST /v1/chat/completions HTTP/1.1\r\nhost: ${SERVICE}\r\ncontent-type: application/json\r\ncontent-length: ${BODY.length}\r\n\r\n${BODY}`,
        );
      });
      socket.on("data", (d) => {
        resolve(`answered ${d.toString().split("\r\n")[0]}`);
        socket.destroy();
      });
      socket.on("error", (e) => resolve(`error ${e.message}`));
      socket.on("close", () => resolve("closed"));
    });
    expect(outcome).not.toMatch(/^answered HTTP\/1.1 200/);
  });
});
