// istiod's own rendering, run in real Envoy (both pinned versions): the golden listener, route,
// cluster and the Wasm filter as pilot-agent converted it (tests/helpers/istiod.ts says what is
// changed and why; the filters upstream Envoy lacks are removed and listed). With them Envoy
// gives the seed's four Prometheus lines; the rendered cluster refuses a certificate for the
// wrong name; and the agent's stand-ins for a module it cannot verify answer 403 `RBAC: access
// denied` (FAIL_CLOSE) or let requests through without the filter (FAIL_OPEN).
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ensureEnvoy } from "../envoy/install";
import { startEnvoy, type EnvoyProcess } from "../envoy/process";
import { MockLlm } from "../local/mock-llm";
import { DEFAULT_MOCK_KEY } from "../local/options";
import { golden } from "../repo/istiod";
import { ENVOYS } from "./helpers/envoy";
import {
  CLUSTER_FILE,
  goldenEnvoyBootstrap,
  goldenHcm,
  goldenLines,
  isIstioOnly,
  tlsContext,
  type GoldenEnvoyOptions,
} from "./helpers/istiod";
import { SEED_BODY, SEED_PROMETHEUS_LINES, scrape } from "./helpers/local";

const LINES = goldenLines();
const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "istiod-envoy-"));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A request as the application in the pod sends it (origin form, Host header): iptables brings
 * it to the 0.0.0.0_80 listener unchanged. */
function meshRequest(proxyUrl: string, subscriber: boolean): Promise<{ status: number; body: string }> {
  const u = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        method: "POST",
        path: "/",
        agent: false,
        headers: {
          host: "dashscope.aliyuncs.com",
          "content-type": "application/json",
          ...(subscriber ? { "user-type": "subscriber" } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
      },
    );
    req.on("error", reject);
    req.end(SEED_BODY);
  });
}

async function run(
  version: string,
  line: string,
  o: Omit<GoldenEnvoyOptions, "accessLogPath">,
): Promise<{ envoy: EnvoyProcess; log: string; removed: string[] }> {
  const log = join(tmp(), "access.log");
  const { bootstrap, removedFilters } = goldenEnvoyBootstrap(line, { ...o, accessLogPath: log });
  const envoy = await startEnvoy({
    binary: await ensureEnvoy(version),
    bootstrap,
    env: { DASHSCOPE_API_KEY: DEFAULT_MOCK_KEY },
  });
  return { envoy, log, removed: removedFilters };
}

const accessLog = (file: string): Record<string, unknown>[] =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .slice(0, -1) // whole lines only: Envoy may be writing the last
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];

async function waitFor<T>(f: () => T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(LINES.flatMap((line) => ENVOYS.map((version) => ({ line, version }))))(
  "istio $line's rendering in Envoy $version",
  ({ line, version }) => {
    it("gives the seed's four Prometheus lines and access-log fields; Istio-only filters removed and named", async () => {
      const mock = await new MockLlm({ apiKey: DEFAULT_MOCK_KEY }).listen(0);
      const { envoy, log, removed } = await run(version, line, {
        upstream: { address: "127.0.0.1", port: Number(new URL(mock.url).port) },
        plainUpstream: true,
      });
      try {
        // What was removed is exactly what the golden has of Istio's own build.
        expect(removed).toEqual([
          ...goldenHcm(line)
            .http_filters.filter(isIstioOnly)
            .map((f: { name: string }) => f.name),
          ...(golden(line, CLUSTER_FILE).filters ?? []).filter(isIstioOnly).map((f: { name: string }) => `cluster:${f.name}`),
        ]);
        expect(removed).toEqual(["istio.metadata_exchange", "istio.alpn", "istio.stats", "cluster:istio.metadata_exchange"]);
        expect((await meshRequest(envoy.proxyUrl, false)).status).toBe(200);
        expect((await meshRequest(envoy.proxyUrl, true)).status).toBe(200);
        const logs = await waitFor(() => (accessLog(log).length >= 2 ? accessLog(log) : undefined), "two access-log lines");
        expect(logs[0]).toMatchObject({ request_model: "qwen-1.8b-chat", request_prompt_tokens: "3", request_completion_tokens: "72" });
        expect(logs[1]).toMatchObject({ request_model: "qwen-turbo", request_prompt_tokens: "11", request_completion_tokens: "85" });
        expect(logs[0].upstream_cluster).toBe("outbound|80||dashscope.aliyuncs.com");
        const lines = (await scrape(envoy.adminUrl))
          // the seed's two counters; the other families (finish reasons...) are other names
          .filter((s) => /^asm_llm_proxy_(prompt|completion)_tokens$/.test(s.name))
          .map((s) => s.line)
          .sort();
        expect(lines).toEqual(SEED_PROMETHEUS_LINES);
        // Routed by the filter: the key from the proxy's environment, DashScope's path.
        expect(mock.requests.at(-1)?.headers.authorization).toBe(`Bearer ${DEFAULT_MOCK_KEY}`);
      } finally {
        await envoy.stop();
        await mock.close();
      }
    });

    it.skipIf(!existsSync("/usr/bin/openssl"))(
      "the rendered cluster refuses a certificate for another name; without subjectAltNames it would not",
      async () => {
        const dir = tmp();
        const cert = (name: string) => {
          execFileSync(
            "openssl",
            [
              "req",
              "-x509",
              "-newkey",
              "ec",
              "-pkeyopt",
              "ec_paramgen_curve:prime256v1",
              "-nodes",
              "-keyout",
              join(dir, `${name}.key`),
              "-out",
              join(dir, `${name}.pem`),
              "-days",
              "1",
              "-subj",
              `/CN=${name}`,
              "-addext",
              `subjectAltName=DNS:${name}`,
            ],
            { stdio: "ignore" },
          );
          return {
            key: readFileSync(join(dir, `${name}.key`)),
            cert: readFileSync(join(dir, `${name}.pem`)),
            caFile: join(dir, `${name}.pem`),
          };
        };
        const attempt = async (name: string, editCluster?: GoldenEnvoyOptions["editCluster"]) => {
          const c = cert(name);
          const provider = await new MockLlm({ apiKey: DEFAULT_MOCK_KEY, tls: c }).listen(0);
          const { envoy } = await run(version, line, {
            upstream: { address: "127.0.0.1", port: Number(new URL(provider.url).port) },
            caFile: c.caFile,
            editCluster,
          });
          try {
            return { status: (await meshRequest(envoy.proxyUrl, false)).status, reached: provider.requests.length };
          } finally {
            await envoy.stop();
            await provider.close();
          }
        };
        const sans = tlsContext(structuredClone(golden(line, CLUSTER_FILE))).common_tls_context.combined_validation_context
          .default_validation_context.match_subject_alt_names;
        expect(sans).toEqual([{ exact: "dashscope.aliyuncs.com" }]);
        // A trusted certificate with the provider's name passes; one for another name is refused
        // before any byte of the request leaves.
        expect(await attempt("dashscope.aliyuncs.com")).toEqual({ status: 200, reached: 1 });
        expect(await attempt("attacker.example.com")).toEqual({ status: 503, reached: 0 });
        // The same cluster as pilot renders it without the DestinationRule's subjectAltNames (an
        // explicit sni turns off the automatic SAN check): the wrong name gets through.
        const noSans = (c: any) => delete tlsContext(c).common_tls_context.validation_context.match_subject_alt_names;
        expect(await attempt("attacker.example.com", noSans)).toEqual({ status: 200, reached: 1 });
      },
    );

    it("a module the agent cannot verify: FAIL_CLOSE answers 403 RBAC: access denied, FAIL_OPEN passes without the filter", async () => {
      const mock = await new MockLlm({ apiKey: DEFAULT_MOCK_KEY }).listen(0);
      const upstream = { address: "127.0.0.1", port: Number(new URL(mock.url).port) };
      const closed = await run(version, line, { upstream, plainUpstream: true, agentFile: "agent-fetch-failed-FAIL_CLOSED.json" });
      const open = await run(version, line, { upstream, plainUpstream: true, agentFile: "agent-fetch-failed-as-rendered.json" });
      try {
        expect(await meshRequest(closed.envoy.proxyUrl, false)).toEqual({ status: 403, body: "RBAC: access denied" });
        expect(mock.requests).toHaveLength(0);
        // FAIL_OPEN (the manifest's choice): the request leaves un-routed, without the key, and
        // the provider does not know the path.
        expect((await meshRequest(open.envoy.proxyUrl, false)).status).toBe(404);
        expect(mock.requests).toHaveLength(1);
        expect(mock.requests[0]).toMatchObject({ path: "/" }); // no path rewrite
        expect(mock.requests[0].headers.authorization).toBeUndefined(); // no key injected
      } finally {
        await closed.envoy.stop();
        await open.envoy.stop();
        await mock.close();
      }
    });
  },
);
