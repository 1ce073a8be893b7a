// `npm start`: the asm-llm-proxy filter in a local sidecar on one machine.
// stdout: one JSON access-log line per request (the mesh's format); stderr: the startup message,
// the filter's log lines and errors. Exit code 1 with one line on any startup problem.
import { relative } from "node:path";
import { OptionsError, parseOptions, USAGE } from "./options";
import { SidecarError, startSidecar, type Sidecar } from "./sidecar";
import { repoRoot, wasmPluginEnv } from "../host/manifests";

const SEED_BODY = `'{"messages":[{"role":"user","content":"Please introduce yourself"}]}'`;

function fail(message: string): never {
  process.stderr.write(`asm-llm-proxy local: error: ${message}\n`);
  process.exit(1);
}

export function banner(s: Sidecar, configSource: string): string {
  const p = s.proxy.url;
  const a = s.admin.url;
  const upstream = s.mock
    ? `embedded mock LLM at ${s.mock.url} (accepts key ${s.mock.options.apiKey}; OpenAI chat + Responses, DashScope native + apps, Gemini, Bedrock Converse/Invoke; JSON and streams — see docs/api-shapes.md)`
    : `${s.upstream.origin} (API key from the environment)`;
  return [
    `asm-llm-proxy local sidecar: ${relative(process.cwd(), `${repoRoot}/build/llmproxy.wasm`)} in one WasmVm on the Node event loop (like one Envoy worker)`,
    `  proxy     ${p}   (forward proxy or Host header; workload ${s.workload}.${s.namespace}; plugin config: ${configSource})`,
    `  admin     ${a}/stats/prometheus   ${a}/stats`,
    `  upstream  ${upstream}`,
    `Try:`,
    `  curl -x ${p} http://dashscope.aliyuncs.com -H 'Content-Type: application/json' --data ${SEED_BODY}`,
    `  curl -x ${p} http://dashscope.aliyuncs.com -H 'Content-Type: application/json' -H 'user-type: subscriber' --data ${SEED_BODY}`,
    `  curl -N -x ${p} http://dashscope.aliyuncs.com -H 'Content-Type: application/json' --data '{"stream":true,"messages":[{"role":"user","content":"Hi"}]}'`,
    `  curl -s ${a}/stats/prometheus | grep llmproxy`,
    `Access-log lines (JSON, one per request) go to stdout. Ctrl-C stops.`,
    ``,
  ].join("\n");
}

async function main(): Promise<void> {
  let opts;
  try {
    opts = parseOptions(process.argv.slice(2), process.env, repoRoot);
  } catch (e) {
    if (e instanceof OptionsError) fail(e.message);
    throw e;
  }
  if (opts.help) {
    process.stdout.write(USAGE);
    return;
  }
  if (opts.upstream !== "mock") {
    for (const v of wasmPluginEnv()) {
      if (v.valueFrom === "HOST" && !(v.name in opts.vmEnv) && !process.env[v.name]) {
        process.stderr.write(`asm-llm-proxy local: warning: ${v.name} is not set: requests reach ${opts.upstream.origin} without an API key\n`);
      }
    }
  }
  let sidecar: Sidecar;
  try {
    sidecar = await startSidecar({
      port: opts.port,
      adminPort: opts.adminPort,
      upstream: opts.upstream,
      upstreamCa: opts.upstreamCa,
      pluginConfig: opts.pluginConfig,
      workload: opts.workload,
      namespace: opts.namespace,
      wasmFile: opts.wasmFile,
      vmEnv: opts.vmEnv,
      mockKey: opts.mockKey,
      mockDelayMs: opts.mockDelayMs,
      logLevel: opts.logLevel,
    });
  } catch (e) {
    if (e instanceof SidecarError) fail(e.message);
    fail((e as Error).message ?? String(e));
  }
  process.stderr.write(banner(sidecar, opts.configFile ?? "manifests/wasmplugin.yaml"));

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`asm-llm-proxy local: ${signal}, stopping\n`);
    const timer = setTimeout(() => process.exit(0), 2000);
    timer.unref();
    sidecar.close().then(
      () => process.exit(0),
      () => process.exit(0),
    );
  };
  process.on("SIGINT", () => stop("SIGINT"));
  process.on("SIGTERM", () => stop("SIGTERM"));
}

main().catch((e) => fail((e as Error)?.message ?? String(e)));
