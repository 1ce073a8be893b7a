// The `model` label Istio reads (manifests/telemetry.yaml's tag override) is safe, checked in real
// Envoy through the evaluator Istio's stats filter uses: Envoy's CEL, here via the CEL access-log
// formatter (`%CEL(expr)%`, extension envoy.formatter.cel) on the very expression of the manifest.
// Istio prints the value into the label verbatim, so every value must be valid UTF-8, free of
// `"`, `\` and control characters, bounded, and folded like llmproxy_model (maxModels).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sidecarBootstrap } from "../envoy/bootstrap";
import { ensureEnvoy } from "../envoy/install";
import { startEnvoy, type EnvoyProcess } from "../envoy/process";
import { MockLlm } from "../local/mock-llm";
import { repoRoot, telemetryTagOverrides } from "../repo/manifests";
import { ENVOYS, send } from "./helpers/envoy";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";

const MAX_MODELS = 5;
const MAX_LABEL_BYTES = 96; // assembly/telemetry/labels.ts
const EXPR = telemetryTagOverrides("REQUEST_COUNT").model;
const OPEN = "<<";
const CLOSE = ">>\n";

/** Request bodies naming hostile models, as raw bytes (some are not valid UTF-8 JSON text). */
const HOSTILE: [string, Buffer][] = [
  ["raw 0xFF bytes", Buffer.concat([Buffer.from('{"model":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('b","messages":[]}')])],
  ["lone surrogate escape", Buffer.from('{"model":"x\\ud800y","messages":[]}')],
  ["quotes", Buffer.from('{"model":"say \\"hi\\"","messages":[]}')],
  ["backslashes", Buffer.from('{"model":"a\\\\b\\\\","messages":[]}')],
  ["newline and tab", Buffer.from('{"model":"a\\nb\\tc\\r","messages":[]}')],
  ["10,000 characters", Buffer.from(`{"model":"${"m".repeat(10_000)}","messages":[]}`)],
  ["emoji across the bound", Buffer.from(JSON.stringify({ model: "\u{1F600}".repeat(100), messages: [] }))],
  ["label forgery", Buffer.from('{"model":"x|llmproxy_model=forged\\",evil=\\"1","messages":[]}')],
];

const STRICT = new TextDecoder("utf-8", { fatal: true });

/** The values the CEL formatter printed, one per request, as bytes. */
function values(file: string): Buffer[] {
  const raw = readFileSync(file);
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const start = raw.indexOf(OPEN, at);
    if (start < 0) return out;
    const end = raw.indexOf(CLOSE, start + OPEN.length);
    if (end < 0) return out;
    out.push(raw.subarray(start + OPEN.length, end));
    at = end + CLOSE.length;
  }
}

function assertSafe(v: Buffer, what: string): string {
  let text: string;
  try {
    text = STRICT.decode(v);
  } catch {
    throw new Error(`${what}: not valid UTF-8: ${v.toString("hex")}`);
  }
  expect(v.length, what).toBeLessThanOrEqual(MAX_LABEL_BYTES);
  expect(text, what).not.toMatch(/["\\\p{Cc}]/u);
  return text;
}

it("the Telemetry manifest reads the label-safe key", () => {
  expect(EXPR).toBe("filter_state['wasm.asm.llmproxy.request_model_label']");
});

describe.each(ENVOYS)("request_model_label through Envoy %s's CEL formatter", (version) => {
  let envoy: EnvoyProcess;
  let mock: MockLlm;
  let dir: string;
  let celLog: string;
  let jsonLog: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "asm-llm-cel-"));
    celLog = join(dir, "cel.log");
    jsonLog = join(dir, "access.log");
    mock = await new MockLlm({ apiKey: "sk-test", streamDelayMs: 0 }).listen(0);
    const u = new URL(mock.url);
    const bootstrap = sidecarBootstrap({
      wasmFile: join(repoRoot, "build", "llmproxy.wasm"),
      upstream: { kind: "plain", address: u.hostname, port: Number(u.port) },
      proxyPort: 0,
      adminPort: 0,
      accessLogPath: jsonLog,
      pluginConfig: JSON.stringify({ maxModels: MAX_MODELS }),
    });
    const hcm = ((bootstrap.static_resources as any).listeners[0].filter_chains[0].filters as any[]).find(
      (f) => f.name === "envoy.filters.network.http_connection_manager",
    );
    hcm.typed_config.access_log.push({
      name: "envoy.access_loggers.file",
      typed_config: {
        "@type": "type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog",
        path: celLog,
        log_format: {
          text_format_source: { inline_string: `${OPEN}%CEL(${EXPR})%${CLOSE}` },
          formatters: [
            { name: "envoy.formatter.cel", typed_config: { "@type": "type.googleapis.com/envoy.extensions.formatter.cel.v3.Cel" } },
          ],
        },
      },
    });
    envoy = await startEnvoy({ binary: await ensureEnvoy(version), bootstrap, concurrency: 1 });
  }, 90_000);
  afterAll(async () => {
    await envoy?.stop();
    await mock?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function waitLines(n: number): Promise<Buffer[]> {
    const deadline = Date.now() + 5000;
    for (;;) {
      const v = values(celLog);
      if (v.length >= n) return v;
      if (Date.now() > deadline) throw new Error(`expected ${n} CEL lines, got ${v.length}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  const chat = (body: Buffer) =>
    send(envoy.proxyUrl, {
      authority: "api.openai.com",
      path: "/v1/chat/completions",
      headers: { "content-type": "application/json", authorization: "Bearer sk-test" },
      body: [body],
    });

  it("hostile models: every value valid UTF-8, no quote, backslash or control, at most 96 bytes; no model gives Istio's 'unknown'", async () => {
    for (const [, body] of HOSTILE) await chat(body);
    await chat(Buffer.from('{"messages":[]}'));
    const got = (await waitLines(HOSTILE.length + 1)).map((v, i) => assertSafe(v, HOSTILE[i]?.[0] ?? "no model"));
    // The formatter prints "-" for a key that is not set (Istio's stats filter: "unknown").
    expect(got[HOSTILE.length]).toBe("-");
    // 10,000 characters is over the filter's 512-byte model bound: no model, as for none at all.
    expect(got[5]).toBe("-");
    // The others are the llmproxy_model values: sanitised, not dropped.
    expect(got[0]).toBe("a__b");
    expect(got.slice(1, 5)).toEqual(["x___y", "say__hi_", "a_b_", "a_b_c_"]);
    // Five distinct models so far (maxModels): the sixth and seventh fold into "other".
    expect(got[6]).toBe("other");
    expect(got[7]).toBe("other");
    // And the forensic key keeps the exact model, bounded and valid UTF-8 (JSON log).
    const logs = readFileSync(jsonLog, "utf8")
      .split("\n")
      .slice(0, -1) // whole lines only
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(logs[1].request_model).toBe("x\ufffd\ufffd\ufffdy");
    expect(logs[2].request_model).toBe('say "hi"');
    const emoji = Buffer.from(String(logs[6].request_model));
    expect(emoji.length).toBe(256);
    expect(String(logs[6].request_model)).toBe("\u{1F600}".repeat(64));
  });

  it(`200 distinct models: at most maxModels (${MAX_MODELS}) + 'other' distinct values`, async () => {
    const before = values(celLog).length;
    for (let i = 0; i < 200; i++) await chat(Buffer.from(JSON.stringify({ model: `model-${i}`, messages: [] })));
    const got = (await waitLines(before + 200)).slice(before).map((v, i) => assertSafe(v, `model-${i}`));
    const distinct = new Set(got);
    expect(distinct.has("other")).toBe(true);
    // The budget is per VM and the hostile case above already used some of it (one worker).
    expect(distinct.size).toBeLessThanOrEqual(MAX_MODELS + 1);
    expect(got.filter((v) => v === "other").length).toBeGreaterThanOrEqual(200 - MAX_MODELS);
  });
});
