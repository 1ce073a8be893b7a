// The official `openai` npm client, sent through the local sidecar (the TypeScript host, and the
// documented ProxyAgent example through real Envoy too) as through a sidecar that
// intercepts http://dashscope.aliyuncs.com: undici's ProxyAgent as the fetch dispatcher (it
// tunnels with CONNECT, which the local proxy accepts for plain-HTTP ports and parses inside),
// so the filter sees :authority dashscope.aliyuncs.com. The client's own view of the usage must
// match the counters on the admin listener and the access-log line of each request.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import OpenAI, { type ClientOptions } from "openai";
import { ProxyAgent } from "undici";
import { request } from "node:http";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { scrape, seedCurl, tokens, startLocal, type LocalSidecar } from "./helpers/local";
import { MockLlm, promptTokens } from "../local/mock-llm";
import { wasmPluginConfig } from "../repo/manifests";
import { freePort } from "./helpers/prometheus";
import { ENVOYS, accessLogsAfter, startProxy } from "./helpers/envoy";

/** Node's fetch options sending through the local proxy (undici's dispatcher option). */
const via = (agent: ProxyAgent) => ({ dispatcher: agent }) as unknown as ClientOptions["fetchOptions"];

const BASE_URL = "http://dashscope.aliyuncs.com/compatible-mode/v1";
const CLIENT_KEY = "sk-client-dummy-replaced-by-the-filter";

describe("openai client through the local sidecar", () => {
  let s: LocalSidecar;
  let agent: ProxyAgent;
  let client: OpenAI;

  beforeAll(async () => {
    s = await startLocal({ mockDelayMs: 3 });
    agent = new ProxyAgent(s.proxy.url);
    client = new OpenAI({ apiKey: CLIENT_KEY, baseURL: BASE_URL, maxRetries: 0, fetchOptions: via(agent) });
  });
  afterAll(async () => {
    await agent?.close();
    await s?.close();
  });

  /** Runs `f`, then returns the counter deltas for `model` and the request's access-log line. */
  async function measured<T>(model: string, f: () => Promise<T>) {
    const before = await scrape(s.admin.url);
    const logCount = s.accessLogs.length;
    const result = await f();
    const logs = await s.waitForAccessLogs(logCount + 1);
    const after = await scrape(s.admin.url);
    return {
      result,
      log: logs[logCount],
      prompt: tokens(after, "asm_llm_proxy_prompt_tokens", model) - tokens(before, "asm_llm_proxy_prompt_tokens", model),
      completion: tokens(after, "asm_llm_proxy_completion_tokens", model) - tokens(before, "asm_llm_proxy_completion_tokens", model),
    };
  }

  it("non-streaming: the usage the client reports is what the sidecar counts and logs", async () => {
    const content = "Count the words of this short sentence please";
    const m = await measured("qwen-plus", () =>
      client.chat.completions.create({ model: "qwen-plus", messages: [{ role: "user", content }] }),
    );
    const r = m.result;
    expect(r.model).toBe("qwen-plus");
    expect(r.usage!.prompt_tokens).toBe(promptTokens("qwen-plus", content)); // 8 words + 8
    expect(r.usage!.prompt_tokens).toBe(16);
    expect(r.choices[0].message.content!.split(" ").length).toBe(r.usage!.completion_tokens);
    expect(m.prompt).toBe(r.usage!.prompt_tokens);
    expect(m.completion).toBe(r.usage!.completion_tokens);
    expect(m.log).toMatchObject({
      authority_for: "dashscope.aliyuncs.com",
      response_code: 200,
      request_model: "qwen-plus",
      response_model: "qwen-plus",
      request_prompt_tokens: String(r.usage!.prompt_tokens),
      request_completion_tokens: String(r.usage!.completion_tokens),
      request_total_tokens: String(r.usage!.total_tokens),
      user_agent: expect.stringMatching(/^OpenAI\/JS /),
    });
    // The filter replaced the client's key with the VM's (the mock answers 401 otherwise).
    const seen = s.mock!.requests.at(-1)!;
    expect(seen.headers.authorization).toBe(`Bearer ${s.mock!.options.apiKey}`);
    expect(seen.headers.authorization).not.toContain(CLIENT_KEY);
    expect(seen.headers.host).toBe("dashscope.aliyuncs.com");
  });

  it("user-type: subscriber switches the model to qwen-turbo, counted under that label", async () => {
    const m = await measured("qwen-turbo", () =>
      client.chat.completions.create(
        { model: "qwen-plus", messages: [{ role: "user", content: "Please introduce yourself" }] },
        { headers: { "user-type": "subscriber" } },
      ),
    );
    expect(m.result.model).toBe("qwen-turbo");
    expect(m.result.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 85 });
    expect(m.prompt).toBe(11);
    expect(m.completion).toBe(85);
    expect(m.log).toMatchObject({ request_model: "qwen-turbo", request_prompt_tokens: "11", request_completion_tokens: "85" });
  });

  it("streaming without include_usage: the filter forces it, the client gets a usage chunk", async () => {
    const content = "Tell me a story about a lighthouse keeper";
    const m = await measured("qwen-max", async () => {
      const stream = await client.chat.completions.create({
        model: "qwen-max",
        stream: true,
        max_tokens: 40,
        messages: [{ role: "user", content }],
      });
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const c of stream) chunks.push(c);
      return chunks;
    });
    const chunks = m.result;
    const usageChunks = chunks.filter((c) => c.usage);
    expect(usageChunks).toHaveLength(1);
    const usage = usageChunks[0].usage!;
    expect(usageChunks[0].choices).toEqual([]);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? "").join("");
    expect(text.split(" ").length).toBe(usage.completion_tokens);
    expect(usage.completion_tokens).toBe(40); // capped by max_tokens
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe("length");
    expect(usage.prompt_tokens).toBe(promptTokens("qwen-max", content));
    // what the client asked for vs. what reached the provider
    const sent = JSON.parse(s.mock!.requests.at(-1)!.body) as { stream_options?: { include_usage?: boolean } };
    expect(sent.stream_options?.include_usage).toBe(true);
    expect(m.prompt).toBe(usage.prompt_tokens);
    expect(m.completion).toBe(usage.completion_tokens);
    expect(m.log).toMatchObject({
      request_model: "qwen-max",
      request_prompt_tokens: String(usage.prompt_tokens),
      request_completion_tokens: "40",
    });
  });

  it("streaming with include_usage from the client: one usage chunk, counted once", async () => {
    const m = await measured("qwen-1.8b-chat", async () => {
      const stream = await client.chat.completions.create({
        model: "qwen-1.8b-chat",
        stream: true,
        stream_options: { include_usage: true },
        messages: [
          { role: "system", content: "Be brief" },
          { role: "user", content: "What is a sidecar proxy?" },
        ],
      });
      const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
      for await (const c of stream) chunks.push(c);
      return chunks;
    });
    const usageChunks = m.result.filter((c) => c.usage);
    expect(usageChunks).toHaveLength(1);
    const usage = usageChunks[0].usage!;
    expect(usage.prompt_tokens).toBe(2 + 5); // words of both messages, no overhead for this model
    expect(m.prompt).toBe(usage.prompt_tokens);
    expect(m.completion).toBe(usage.completion_tokens);
  });

  it("SSE reaches the client event by event, not after the upstream finished", async () => {
    const events: number[] = [];
    const onSse = (e: { index: number }) => events.push(e.index);
    s.mock!.on("sse", onSse);
    s.mock!.options.streamDelayMs = 10; // 34 events over ~340 ms
    try {
      const stream = await client.chat.completions.create({
        model: "qwen-turbo",
        stream: true,
        max_tokens: 30,
        messages: [{ role: "user", content: "Stream please" }],
      });
      let writtenAtFirstContent = -1;
      let total = 0;
      for await (const c of stream) {
        if (writtenAtFirstContent < 0 && c.choices[0]?.delta?.content) writtenAtFirstContent = events.length;
        total++;
      }
      // 1 role chunk + 30 words + finish + usage (+ [DONE]) events; the first word arrived while
      // the mock had written only a few of them.
      expect(total).toBe(33);
      expect(events.length).toBe(34);
      expect(writtenAtFirstContent).toBeGreaterThan(0);
      expect(writtenAtFirstContent).toBeLessThan(events.length / 2);
    } finally {
      s.mock!.options.streamDelayMs = 3;
      s.mock!.off("sse", onSse);
    }
  });

  it("DashScope native SSE: the cumulative usage is counted once, from the last event", async () => {
    const m = await measured("qwen-turbo", async () => {
      const r = await fetch("http://dashscope.aliyuncs.com/api/v1/services/aigc/text-generation/generation", {
        method: "POST",
        headers: { "content-type": "application/json", "x-dashscope-sse": "enable", authorization: "Bearer nothing" },
        body: JSON.stringify({
          model: "qwen-turbo",
          input: { messages: [{ role: "user", content: "Name three rivers" }] },
          parameters: { result_format: "message", max_tokens: 12 },
        }),
        // @ts-expect-error undici's dispatcher option of Node's fetch
        dispatcher: agent,
      });
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toMatch(/text\/event-stream/);
      return r.text();
    });
    const events = m.result.split("\n\n").filter((e) => e.includes("data:"));
    expect(events).toHaveLength(12);
    const last = JSON.parse(events.at(-1)!.split("data:")[1]) as { usage: { input_tokens: number; output_tokens: number } };
    expect(last.usage).toMatchObject({ input_tokens: 11, output_tokens: 12 });
    expect(m.prompt).toBe(11);
    expect(m.completion).toBe(12); // not 1+2+...+12
    expect(m.log).toMatchObject({
      path: "/api/v1/services/aigc/text-generation/generation",
      request_model: "qwen-turbo",
      request_completion_tokens: "12",
    });
  });

  it("a plain request with a Host header (no proxy) is seen with that authority", async () => {
    const before = s.accessLogs.length;
    const body = JSON.stringify({ messages: [{ role: "user", content: "Please introduce yourself" }] });
    const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: "127.0.0.1",
          port: s.proxy.port,
          method: "POST",
          path: "/",
          headers: { host: "dashscope.aliyuncs.com", "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        },
        (r) => {
          const c: Buffer[] = [];
          r.on("data", (d: Buffer) => c.push(d));
          r.on("end", () => resolve({ status: r.statusCode!, text: Buffer.concat(c).toString() }));
        },
      );
      req.on("error", reject);
      req.end(body);
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.text).usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 72 });
    const logs = await s.waitForAccessLogs(before + 1);
    expect(logs[before]).toMatchObject({
      authority_for: "dashscope.aliyuncs.com",
      request_model: "qwen-1.8b-chat",
      request_completion_tokens: "72",
    });
  });

  it("another authority is only observed: no key injected, no tokens counted for the 401", async () => {
    const before = await scrape(s.admin.url);
    const logCount = s.accessLogs.length;
    const other = new OpenAI({ apiKey: "sk-other", baseURL: "http://llm.example.internal/v1", maxRetries: 0, fetchOptions: via(agent) });
    const err = await other.chat.completions
      .create({ model: "qwen-turbo", messages: [{ role: "user", content: "hi" }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError); // the mock saw the client's own key
    expect(s.mock!.requests.at(-1)!.headers.authorization).toBe("Bearer sk-other");
    const logs = await s.waitForAccessLogs(logCount + 1);
    // observe-only for hosts that are no provider: the model is read from the request body
    expect(logs[logCount]).toMatchObject({
      authority_for: "llm.example.internal",
      response_code: 401,
      request_model: "qwen-turbo",
      request_prompt_tokens: null,
    });
    expect(s.mock!.requests.at(-1)!.path).toBe("/v1/chat/completions"); // no path rewrite either
    const after = await scrape(s.admin.url);
    const tokenLines = (series: typeof before) =>
      series.filter((x) => /^asm_llm_proxy_(prompt|completion)_tokens$/.test(x.name)).map((x) => x.line);
    expect(tokenLines(before).length).toBeGreaterThan(0);
    expect(tokenLines(after)).toEqual(tokenLines(before));
  });
});

describe("local replies", () => {
  // Before issue 23 this request got Envoy's 413: the filter held the body in Envoy's buffer,
  // whose limit (1 KiB here) is below maxRewriteBodyBytes. Over HTTP/1.1 the body is now held in
  // the VM (assembly/held-body.ts), so Envoy holds nothing and the request goes through rewritten.
  it("a body held for a rewrite beyond Envoy's buffer limit (HTTP/1.1): held in the VM, no 413, rewritten and answered", async () => {
    const pluginConfig = JSON.stringify({ ...JSON.parse(wasmPluginConfig()), maxRewriteBodyBytes: 65536 });
    const s = await startLocal({ pluginConfig, bufferLimitBytes: 1024 });
    const agent = new ProxyAgent(s.proxy.url);
    try {
      const client = new OpenAI({ apiKey: "x", baseURL: BASE_URL, maxRetries: 0, fetchOptions: via(agent) });
      const small = await client.chat.completions.create({ model: "qwen-turbo", messages: [{ role: "user", content: "short" }] });
      expect(small.usage!.prompt_tokens).toBe(9);
      const long = "word ".repeat(2000);
      const answer = await client.chat.completions.create({ model: "qwen-turbo", messages: [{ role: "user", content: long }] });
      expect(answer.usage!.prompt_tokens).toBeGreaterThan(1000);
      expect(s.mock!.requests).toHaveLength(2);
      const logs = await s.waitForAccessLogs(2);
      expect(logs[1]).toMatchObject({ response_code: 200, authority_for: "dashscope.aliyuncs.com" });
    } finally {
      await agent.close();
      await s.close();
    }
  });
});

describe("client going away", () => {
  it("a client that disconnects mid-stream: the upstream call is abandoned, the log says DC", async () => {
    const s = await startLocal({ mockDelayMs: 10 });
    try {
      const events: number[] = [];
      s.mock!.on("sse", (e: { index: number }) => events.push(e.index));
      const mockClosed = new Promise<void>((resolve) => s.mock!.once("request", () => resolve()));
      await new Promise<void>((resolve, reject) => {
        const body = JSON.stringify({ stream: true, messages: [{ role: "user", content: "Please introduce yourself" }] });
        const req = request(
          {
            host: "127.0.0.1",
            port: s.proxy.port,
            method: "POST",
            path: "http://dashscope.aliyuncs.com/",
            headers: { host: "dashscope.aliyuncs.com", "content-type": "application/json" },
          },
          (res) => {
            expect(res.statusCode).toBe(200);
            res.once("data", () => {
              req.destroy(); // hang up after the first event
              resolve();
            });
          },
        );
        req.on("error", () => {});
        req.end(body);
        setTimeout(() => reject(new Error("no first event")), 5000);
      });
      await mockClosed;
      const [log] = await s.waitForAccessLogs(1);
      expect(log).toMatchObject({ response_code: 200, response_flags: "DC", request_model: "qwen-1.8b-chat" });
      const written = events.length;
      await new Promise((r) => setTimeout(r, 100));
      expect(events.length).toBe(written); // the mock stopped writing: its connection was closed
      expect(written).toBeLessThan(72);
    } finally {
      await s.close();
    }
  });
});

describe("explicit upstreams (--upstream)", () => {
  // The request keeps its authority (dashscope.aliyuncs.com) as Envoy does; the certificate
  // names the provider (SNI and SAN check in Envoy, from the DestinationRule's `sni`) and the
  // loopback address (the TypeScript host connects by address).
  it.skipIf(!existsSync("/usr/bin/openssl")).each(["node", ...ENVOYS])(
    "https: TLS origination with verification, key from the host environment, %s",
    async (which) => {
      const dir = mkdtempSync(join(tmpdir(), "asm-llm-proxy-tls-"));
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
          join(dir, "key.pem"),
          "-out",
          join(dir, "cert.pem"),
          "-days",
          "1",
          "-subj",
          "/CN=dashscope.aliyuncs.com",
          "-addext",
          "subjectAltName=DNS:dashscope.aliyuncs.com,IP:127.0.0.1",
        ],
        { stdio: "ignore" },
      );
      const cert = readFileSync(join(dir, "cert.pem"));
      const provider = await new MockLlm({ apiKey: "sk-from-host-env", tls: { key: readFileSync(join(dir, "key.pem")), cert } }).listen(0);
      const upstream = new URL(provider.url);
      expect(upstream.protocol).toBe("https:");
      const trusted = await startProxy(which, { upstream, upstreamCa: cert, vmEnv: { DASHSCOPE_API_KEY: "sk-from-host-env" } });
      const untrusted = await startProxy(which, { upstream, vmEnv: { DASHSCOPE_API_KEY: "sk-from-host-env" } });
      try {
        const ok = await seedCurl(trusted.proxyUrl, false);
        expect(ok.status).toBe(200);
        expect(JSON.parse(ok.body).usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 72 });
        const seen = provider.requests.at(-1)!;
        expect(seen.headers.authorization).toBe("Bearer sk-from-host-env"); // vmConfig.env HOST → the VM
        expect(seen.headers.host).toBe("dashscope.aliyuncs.com");
        const [log] = await accessLogsAfter(trusted, 1);
        expect(log).toMatchObject({
          response_code: 200,
          authority_for: "dashscope.aliyuncs.com",
          request_completion_tokens: "72",
          upstream_host: `127.0.0.1:${upstream.port}`,
        });

        // an upstream certificate nobody vouches for is refused, like a DestinationRule with SIMPLE TLS
        const bad = await seedCurl(untrusted.proxyUrl, false);
        expect(bad.status).toBe(503);
        const [badLog] = await accessLogsAfter(untrusted, 1);
        // Envoy retries the failed handshake twice, as pilot's route retries connect failures
        // (URX: retry limit exceeded); the TypeScript host does not model retries.
        expect(badLog).toMatchObject({ response_code: 503, response_flags: which === "node" ? "UF" : "URX,UF" });
        expect(provider.requests).toHaveLength(1);
      } finally {
        await trusted.close();
        await untrusted.close();
        await provider.close();
      }
    },
  );

  it("an unreachable upstream gives Envoy's 503 with response flag UF, through the filter", async () => {
    const dead = await freePort(); // nothing listens there
    const s = await startLocal({ upstream: new URL(`http://127.0.0.1:${dead}`) });
    const agent = new ProxyAgent(s.proxy.url);
    try {
      const client = new OpenAI({ apiKey: "x", baseURL: BASE_URL, maxRetries: 0, fetchOptions: via(agent) });
      const err = await client.chat.completions
        .create({ model: "qwen-turbo", messages: [{ role: "user", content: "hi" }] })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      expect((err as InstanceType<typeof OpenAI.APIError>).status).toBe(503);
      const [log] = await s.waitForAccessLogs(1);
      expect(log).toMatchObject({
        response_code: 503,
        response_flags: "UF",
        authority_for: "dashscope.aliyuncs.com",
        request_completion_tokens: null,
      });
    } finally {
      await agent.close();
      await s.close();
    }
  });
});

describe.each(["node", ...ENVOYS])("the documented ProxyAgent example (docs/local-sidecar.md) through %s", (which) => {
  // undici's ProxyAgent tunnels http:// with CONNECT: Envoy terminates the tunnel and reads the
  // requests inside on an internal listener (envoy/connect.ts), the Node host parses them itself.
  it("gets its answer through CONNECT, is counted and logged; CONNECT to 443 is refused", async () => {
    const mock = await new MockLlm({ apiKey: "sk-mock", streamDelayMs: 0 }).listen(0);
    const proxy = await startProxy(which, { upstream: new URL(mock.url), vmEnv: { DASHSCOPE_API_KEY: "sk-mock" } });
    const agent = new ProxyAgent(proxy.proxyUrl);
    try {
      const client = new OpenAI({ apiKey: "unused", baseURL: BASE_URL, maxRetries: 0, fetchOptions: via(agent) });
      const before = await scrape(proxy.adminUrl);
      const r = await client.chat.completions.create({ model: "qwen-plus", messages: [{ role: "user", content: "Hi" }] });
      expect(r.usage!.prompt_tokens).toBe(promptTokens("qwen-plus", "Hi"));
      const [log, ...more] = await accessLogsAfter(proxy, 1);
      expect(more).toEqual([]); // one line per request, none for the tunnel itself
      expect(log).toMatchObject({
        method: "POST",
        authority_for: "dashscope.aliyuncs.com",
        response_code: 200,
        request_model: "qwen-plus",
        request_prompt_tokens: String(r.usage!.prompt_tokens),
        request_completion_tokens: String(r.usage!.completion_tokens),
      });
      expect(mock.requests.at(-1)!.headers.authorization).toBe("Bearer sk-mock"); // routed: the key injected
      const after = await scrape(proxy.adminUrl);
      expect(tokens(after, "asm_llm_proxy_prompt_tokens", "qwen-plus") - tokens(before, "asm_llm_proxy_prompt_tokens", "qwen-plus")).toBe(
        r.usage!.prompt_tokens,
      );
      expect(
        tokens(after, "asm_llm_proxy_completion_tokens", "qwen-plus") - tokens(before, "asm_llm_proxy_completion_tokens", "qwen-plus"),
      ).toBe(r.usage!.completion_tokens);

      const refused = await connectStatus(proxy.proxyUrl, "dashscope.aliyuncs.com:443");
      expect(refused).toBe(405);
    } finally {
      await agent.close();
      await proxy.close();
      await mock.close();
    }
  });
});

/** The status line a proxy answers to `CONNECT target`. */
function connectStatus(proxyUrl: string, target: string): Promise<number> {
  const p = new URL(proxyUrl);
  return new Promise((resolve, reject) => {
    const req = request({ host: p.hostname, port: p.port, method: "CONNECT", path: target, agent: false });
    req.on("connect", (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on("response", (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", reject);
    req.end();
  });
}
