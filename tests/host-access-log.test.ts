import { beforeAll, describe, expect, it } from "vitest";
import { formatAccessLog, runExchange, type AccessLogContext } from "../host";
import { probeModule, probeVm } from "./host-fixtures";

const enc = new TextEncoder();

function ctx(over: Partial<AccessLogContext> = {}): AccessLogContext {
  return {
    startTimeNs: 1_700_000_000_123_000_000n,
    endTimeNs: 1_700_000_000_168_000_000n,
    requestHeaders: [
      [":method", "POST"],
      [":path", "/v1/chat"],
      [":authority", "dashscope.aliyuncs.com"],
      ["x-envoy-original-path", "/orig"],
    ],
    responseHeaders: [
      [":status", "200"],
      ["content-type", "application/json"],
    ],
    responseCode: 200,
    responseFlags: "-",
    bytesReceived: 120,
    bytesSent: 340,
    protocol: "HTTP/1.1",
    upstreamHost: "1.2.3.4:443",
    upstreamCluster: "outbound|443||dashscope.aliyuncs.com",
    filterState: new Map([["wasm.asm.llmproxy.request_prompt_tokens", { value: enc.encode("3") }]]),
    ...over,
  };
}

beforeAll(async () => {
  await probeModule();
});

describe("text format", () => {
  it("substitutes operators, '-' for unset values", () => {
    const line = formatAccessLog(
      '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% %BYTES_RECEIVED% %BYTES_SENT% %DURATION% "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER% %FILTER_STATE(wasm.asm.llmproxy.request_prompt_tokens:PLAIN)% %FILTER_STATE(wasm.none:PLAIN)% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n',
      ctx(),
    );
    expect(line).toBe(
      '[2023-11-14T22:13:20.123Z] "POST /orig HTTP/1.1" 200 - 120 340 45 "1.2.3.4:443" outbound|443||dashscope.aliyuncs.com 3 - - -\n',
    );
  });
  it("REQ(X?Y) falls back to Y; :N truncates", () => {
    expect(formatAccessLog("%REQ(X-NONE?:AUTHORITY):9%", ctx())).toBe("dashscope");
  });
  it("an unknown operator is a configuration error", () => {
    expect(() => formatAccessLog("%NO_SUCH_OPERATOR%", ctx())).toThrow(/Not supported/);
  });
  it("FILTER_STATE without :PLAIN renders the proto JSON (Any of BytesValue)", () => {
    expect(formatAccessLog("%FILTER_STATE(wasm.asm.llmproxy.request_prompt_tokens)%", ctx())).toBe(
      '{"@type":"type.googleapis.com/google.protobuf.BytesValue","value":"Mw=="}',
    );
  });
});

describe("JSON format", () => {
  it("keeps operator types for whole-value fields, null for unset, strings for mixed text, sorted keys", () => {
    const line = formatAccessLog(
      {
        authority_for: "%REQ(:AUTHORITY)%",
        response_code: "%RESPONSE_CODE%",
        duration: "%DURATION%",
        request_prompt_tokens: "%FILTER_STATE(wasm.asm.llmproxy.request_prompt_tokens:PLAIN)%",
        typed: "%FILTER_STATE(wasm.asm.llmproxy.request_prompt_tokens)%",
        missing: "%FILTER_STATE(wasm.none:PLAIN)%",
        missing_header: "%REQ(X-NONE)%",
        mixed: "%REQ(:METHOD)% %REQ(X-NONE)%",
      },
      ctx(),
    );
    expect(line.endsWith("\n")).toBe(true);
    expect(Object.keys(JSON.parse(line))).toEqual([
      "authority_for",
      "duration",
      "missing",
      "missing_header",
      "mixed",
      "request_prompt_tokens",
      "response_code",
      "typed",
    ]);
    expect(JSON.parse(line)).toEqual({
      authority_for: "dashscope.aliyuncs.com",
      response_code: 200,
      duration: 45,
      request_prompt_tokens: "3", // a string: FilterStateFormatter returns ValueUtil::stringValue
      typed: { "@type": "type.googleapis.com/google.protobuf.BytesValue", value: "Mw==" },
      missing: null,
      missing_header: null,
      mixed: "POST -",
    });
  });
});

describe("from a stream", () => {
  it("uses the final request headers, the response code and the filter state", async () => {
    const vm = await probeVm(["request_headers|hadd:rh:x-added:1 setprop:asm.model:qwen-turbo"]);
    const r = runExchange(vm, {
      request: { authority: "api.x", body: "hello" },
      response: { status: 201, body: "abc" },
      info: { upstreamAddress: "9.9.9.9:443" },
    });
    const line = formatAccessLog(
      {
        a: "%REQ(X-ADDED)%",
        c: "%RESPONSE_CODE%",
        m: "%FILTER_STATE(wasm.asm.model:PLAIN)%",
        r: "%BYTES_RECEIVED%",
        s: "%BYTES_SENT%",
        u: "%UPSTREAM_HOST%",
      },
      r.stream.accessLogContext(),
    );
    expect(JSON.parse(line)).toEqual({ a: "1", c: 201, m: "qwen-turbo", r: 5, s: 3, u: "9.9.9.9:443" });
  });
});
