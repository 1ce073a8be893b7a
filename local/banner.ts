// The startup message of `npm start` (stderr): where the sidecar listens, what it runs, and the
// seed's requests to try. Its own module so docs/local-sidecar.md's copy can be checked against it
// (tests/docs.test.ts) without starting anything.

/** Picks the seed's four token lines out of the whole exposition (the README shows its output). */
export const SEED_METRICS_GREP = "grep -E '^asm_llm_proxy_(prompt|completion)_tokens\\{'";

/** What runs the filter, as the first line says it. */
export function envoyRuntime(version: string, wasm: string): string {
  return `real Envoy ${version} (2 workers, one V8 Wasm VM each) running ${wasm}, configured from manifests/`;
}
export function nodeRuntime(wasm: string): string {
  return `${wasm} in the TypeScript proxy-wasm host, one WasmVm on the Node event loop (like one Envoy worker)`;
}

const SEED_BODY = `'{"messages":[{"role":"user","content":"Please introduce yourself"}]}'`;

/** What `banner` needs of either sidecar. */
export interface Running {
  runtime: string;
  proxyUrl: string;
  adminUrl: string;
  mockUrl?: string;
  mockKey?: string;
  upstream: URL;
  workload: string;
  namespace: string;
  /** Resolves if the proxy process ends by itself (Envoy crashed or was killed). */
  exited?: Promise<number | null>;
  close(): Promise<void>;
}

export function banner(s: Running, configSource: string): string {
  const p = s.proxyUrl;
  const a = s.adminUrl;
  const upstream = s.mockUrl
    ? `embedded mock LLM at ${s.mockUrl} (accepts key ${s.mockKey}; OpenAI chat + Responses, DashScope native + apps, Gemini, Bedrock Converse/Invoke; JSON and streams — see docs/api-shapes.md)`
    : `${s.upstream.origin} (API key from the environment)`;
  return [
    `asm-llm-proxy local sidecar: ${s.runtime}`,
    `  proxy     ${p}   (forward proxy or Host header; workload ${s.workload}.${s.namespace}; plugin config: ${configSource})`,
    `  admin     ${a}/stats/prometheus   ${a}/stats`,
    `  upstream  ${upstream}`,
    `Try:`,
    `  curl -x ${p} http://dashscope.aliyuncs.com -H 'Content-Type: application/json' --data ${SEED_BODY}`,
    `  curl -x ${p} http://dashscope.aliyuncs.com -H 'Content-Type: application/json' -H 'user-type: subscriber' --data ${SEED_BODY}`,
    `  curl -N -x ${p} http://dashscope.aliyuncs.com -H 'Content-Type: application/json' --data '{"stream":true,"messages":[{"role":"user","content":"Hi"}]}'`,
    `  curl -s ${a}/stats/prometheus | ${SEED_METRICS_GREP}`,
    `Access-log lines (JSON, one per request) go to stdout. Ctrl-C stops.`,
    ``,
  ].join("\n");
}
