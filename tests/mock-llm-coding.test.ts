// The mock LLM of `npm start` answers accept-encoding as a provider does (local/content-coding.ts):
// brotli or gzip by the client's preference, identity otherwise; streams stay event by event.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import zlib from "node:zlib";
import { request } from "node:http";
import { chooseCoding } from "../local/content-coding";
import { startMockLlm, type MockLlm } from "../local/mock-llm";

let mock: MockLlm;
beforeAll(async () => {
  mock = await startMockLlm({ apiKey: "sk-mock" });
});
afterAll(async () => mock?.close());

function post(body: object, acceptEncoding?: string): Promise<{ headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request(
      `${mock.url}/v1/chat/completions`,
      {
        method: "POST",
        headers: {
          "content-type": "application/json",
          authorization: "Bearer sk-mock",
          ...(acceptEncoding ? { "accept-encoding": acceptEncoding } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

function decode(coding: unknown, body: Buffer): string {
  if (coding === "gzip") return zlib.gunzipSync(body).toString();
  if (coding === "br") return zlib.brotliDecompressSync(body).toString();
  expect(coding).toBeUndefined();
  return body.toString();
}

describe("mock LLM content coding", () => {
  it("chooses by preference and q-value", () => {
    expect(chooseCoding(undefined)).toBe("identity");
    expect(chooseCoding("gzip, deflate")).toBe("gzip");
    expect(chooseCoding("gzip, deflate, br, zstd")).toBe("br");
    expect(chooseCoding("br;q=0.5, gzip")).toBe("gzip");
    expect(chooseCoding("br;q=0, gzip;q=0")).toBe("identity");
    expect(chooseCoding("identity")).toBe("identity");
    expect(chooseCoding("*")).toBe("br");
  });

  for (const [ae, coding] of [
    [undefined, undefined],
    ["gzip, deflate", "gzip"],
    ["gzip, deflate, br", "br"],
  ] as const) {
    it(`accept-encoding ${ae ?? "(none)"}: JSON and SSE answered in ${coding ?? "identity"}`, async () => {
      const json = await post({ model: "qwen-turbo", messages: [{ role: "user", content: "hi there" }] }, ae);
      expect(json.headers["content-encoding"]).toBe(coding);
      expect(JSON.parse(decode(json.headers["content-encoding"], json.body)).usage.prompt_tokens).toBeGreaterThan(0);
      const sse = await post(
        { model: "qwen-turbo", stream: true, stream_options: { include_usage: true }, messages: [{ role: "user", content: "hi" }] },
        ae,
      );
      expect(sse.headers["content-encoding"]).toBe(coding);
      const text = decode(sse.headers["content-encoding"], sse.body);
      expect(text).toContain('"usage":{"prompt_tokens"');
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
    });
  }
});
