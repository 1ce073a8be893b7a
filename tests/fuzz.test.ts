// Fuzzing: mutated and random bodies, headers and configurations. Whatever arrives,
// the VM never traps, no token number is published that the reference model would not publish
// (or, for input that is not valid JSON, that the input does not carry under its key), and in
// observe-only mode the bytes pass unchanged. A bounded count runs here; scripts/fuzz-campaign.ts
// runs the same generators for millions of cases.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { sidecar, configure, type Sidecar } from "./helpers/sidecar";
import { cuts, positions, type Case } from "./helpers/gen";
import { mutatedCase, structuralCase, oddHeaders, bytes } from "./helpers/mutate";
import { checkAgainstReference, cut, snap, STATE, TOKEN_STATE, PATHS } from "./helpers/harness";
import type { Exchange } from "../host";

const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

function ex(c: Case, req: Uint8Array[] = [c.request], resp: Uint8Array[] = [c.response]): Exchange {
  return {
    request: { method: "POST", path: c.path, authority: "api.example.com", headers: c.requestHeaders, body: req },
    response: { status: c.status, headers: c.responseHeaders, body: resp },
  };
}

function checked(s: Sidecar, c: Case, req?: Uint8Array[], resp?: Uint8Array[]) {
  const r = snap(s, ex(c, req, resp));
  expect(r.failed, r.trap).toBe(false);
  expect(checkAgainstReference(r, c.shape, c.request, { status: c.status, headers: c.responseHeaders, body: c.response }, c.path)).toEqual(
    [],
  );
  expect(r.upstreamBody).toBe(latin1(c.request));
  expect(r.downstreamBody).toBe(latin1(c.response));
  return r;
}

describe("fuzz: mutated bodies", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  it("byte-level mutations: no trap, no invented numbers, bytes unchanged, split-invariant", () => {
    fc.assert(
      fc.property(mutatedCase, cuts, (c, rs) => {
        const whole = checked(s, c);
        const split = snap(s, ex(c, [c.request], cut(c.response, positions(rs, c.response.length))));
        expect(split.filterState).toEqual(whole.filterState);
        expect(split.counters).toEqual(whole.counters);
      }),
      { numRuns: RUNS },
    );
  });

  it("hostile usage values (negative, float, string, huge, null, nested): exactly the reference", () => {
    fc.assert(
      fc.property(structuralCase, (c) => {
        checked(s, c);
      }),
      { numRuns: RUNS },
    );
  });

  it("odd statuses, content types and encodings on any body", () => {
    fc.assert(
      fc.property(fc.oneof(mutatedCase, structuralCase), oddHeaders, (c, h) => {
        checked(s, { ...c, status: h.status, responseHeaders: h.headers });
      }),
      { numRuns: RUNS },
    );
  });

  it("random bytes as request and response", () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 300 }),
        fc.uint8Array({ maxLength: 600 }),
        fc.constantFrom(...Object.keys(PATHS)),
        oddHeaders,
        (rq, rs, api, h) => {
          const { path, shape } = PATHS[api];
          checked(s, {
            api: api as Case["api"],
            shape,
            path,
            request: rq,
            requestHeaders: [["content-type", "application/json"]],
            status: h.status,
            responseHeaders: h.headers,
            response: rs,
          });
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("fuzz: hand-picked hostile bodies", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });
  const openai = (
    response: string | Uint8Array,
    ct = "application/json",
    request: string | Uint8Array = '{"model":"m","messages":[]}',
  ): Case => ({
    api: "openai",
    shape: "openai",
    path: "/v1/chat/completions",
    request: typeof request === "string" ? bytes(request) : request,
    requestHeaders: [["content-type", "application/json"]],
    status: 200,
    responseHeaders: [["content-type", ct]],
    response: typeof response === "string" ? Buffer.from(response, "latin1") : response,
  });
  const tokens = (r: { filterState: Record<string, string> }) => [
    r.filterState[STATE + TOKEN_STATE.prompt],
    r.filterState[STATE + TOKEN_STATE.completion],
  ];

  it("100k levels of nesting, in the request and in the response, before and around the usage", () => {
    const deep = "[".repeat(100_000) + "]".repeat(100_000);
    const deepObj = '{"a":'.repeat(100_000) + "1" + "}".repeat(100_000);
    expect(tokens(checked(s, openai(`{"x":${deep},"usage":{"prompt_tokens":3,"completion_tokens":4}}`)))).toEqual(["3", "4"]);
    expect(tokens(checked(s, openai(`{"x":${deepObj},"usage":{"prompt_tokens":3,"completion_tokens":4}}`)))).toEqual(["3", "4"]);
    expect(tokens(checked(s, openai(`{"usage":${deepObj}}`)))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai("[".repeat(100_000))))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai("{".repeat(100_000))))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai("}".repeat(100_000))))).toEqual([undefined, undefined]);
    const r = checked(
      s,
      openai('{"usage":{"prompt_tokens":1,"completion_tokens":2}}', "application/json", `{"messages":${deep},"model":"deep-model"}`),
    );
    expect(r.filterState[STATE + "request_model"]).toBe("deep-model");
    // and as an SSE event
    expect(
      tokens(
        checked(
          s,
          openai(`data: {"x":${deep},"usage":{"prompt_tokens":5,"completion_tokens":6}}\n\ndata: [DONE]\n\n`, "text/event-stream"),
        ),
      ),
    ).toEqual(["5", "6"]);
  });

  it("token counts that are not counts publish nothing for that field", () => {
    for (const v of [
      "-1",
      "1.5",
      "1e3",
      '"12"',
      "null",
      "true",
      "[1]",
      "{}",
      "99999999999999999999",
      "1" + "0".repeat(1000),
      "0012",
      "-0",
    ]) {
      const r = checked(s, openai(`{"usage":{"prompt_tokens":${v},"completion_tokens":4}}`));
      expect([v, ...tokens(r)]).toEqual([v, undefined, "4"]);
    }
    // the largest accepted count: 9 digits; one more is absurd
    expect(tokens(checked(s, openai('{"usage":{"prompt_tokens":999999999,"completion_tokens":0}}')))).toEqual(["999999999", "0"]);
    expect(tokens(checked(s, openai('{"usage":{"prompt_tokens":1000000000,"completion_tokens":5}}')))).toEqual([undefined, "5"]);
  });

  it('"usage": null, duplicate keys, usage in the wrong place', () => {
    expect(tokens(checked(s, openai('{"usage":null}')))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai('{"usage":{"prompt_tokens":1,"prompt_tokens":2,"completion_tokens":3}}')))).toEqual(["2", "3"]);
    expect(tokens(checked(s, openai('{"usage":{"prompt_tokens":1,"completion_tokens":3},"usage":null}')))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai('{"usage":{"prompt_tokens":1,"completion_tokens":3},"usage":{"completion_tokens":9}}')))).toEqual([
      undefined,
      "9",
    ]);
    expect(tokens(checked(s, openai('{"choices":[{"usage":{"prompt_tokens":1,"completion_tokens":3}}]}')))).toEqual(["1", "3"]); // some vLLM-derived servers
    expect(tokens(checked(s, openai('{"choices":[{"usage":{"prompt_tokens":1,"completion_tokens":3}}],"choices":[]}')))).toEqual([
      undefined,
      undefined,
    ]);
    expect(tokens(checked(s, openai('{"data":{"usage":{"prompt_tokens":1,"completion_tokens":3}}}')))).toEqual([undefined, undefined]);
  });

  it("invalid UTF-8 and NUL bytes in model names and bodies", () => {
    const r = checked(
      s,
      openai(
        Buffer.from('{"model":"a\xff\xfe\0b","usage":{"prompt_tokens":1,"completion_tokens":2}}', "latin1"),
        "application/json",
        Buffer.from('{"model":"q\0\xc3(\xed\xa0\x80","messages":[]}', "latin1"),
      ),
    );
    expect(tokens(r)).toEqual(["1", "2"]);
    const sent = r.filterState[STATE + "request_model"];
    expect(sent).not.toMatch(/[\0\n]/);
  });

  it("[DONE] in odd places, events without blank line, streams that end mid-event", () => {
    const usage = 'data: {"usage":{"prompt_tokens":5,"completion_tokens":6}}\n\n';
    expect(tokens(checked(s, openai(`data: [DONE]\n\n${usage}`, "text/event-stream")))).toEqual(["5", "6"]);
    expect(tokens(checked(s, openai(`data: [DONE]xyz\n\n${usage}data: [DO`, "text/event-stream")))).toEqual(["5", "6"]);
    expect(tokens(checked(s, openai(`data: {"usage":{"prompt_tokens":5,"completion_tokens":6}}`, "text/event-stream")))).toEqual([
      undefined,
      undefined,
    ]);
    expect(tokens(checked(s, openai(`data: {"usage":{"prompt_tokens":5,"completion_tokens":6}}\n`, "text/event-stream")))).toEqual([
      undefined,
      undefined,
    ]);
    expect(tokens(checked(s, openai(`data: {"usage":{"prompt_tokens":5,\n\n`, "text/event-stream")))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai(`${usage}data: {"usage":{"prompt_tokens":7,"completion_tokens":8}`, "text/event-stream")))).toEqual([
      "5",
      "6",
    ]);
    expect(
      tokens(checked(s, openai(`data: {"usage":\ndata: {"prompt_tokens":5,"completion_tokens":6}}\n\n`, "text/event-stream"))),
    ).toEqual(["5", "6"]);
  });

  it("bodies of 0 bytes", () => {
    expect(tokens(checked(s, openai("")))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai("", "text/event-stream")))).toEqual([undefined, undefined]);
    expect(tokens(checked(s, openai('{"usage":{"prompt_tokens":1,"completion_tokens":2}}', "application/json", "")))).toEqual(["1", "2"]);
  });
});

describe("fuzz: configurations", () => {
  const valid = {
    providers: [{ name: "p", hosts: ["h.example"], model: "m", path: "/v1/chat/completions" }],
    routes: [{ match: { headers: [{ name: "x", exact: "y" }] }, model: "n" }],
    maxModels: 5,
  };

  it("random JSON and mutated valid configurations never trap (accepted or refused)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.json({ depthSize: "small" }),
          fc.string({ maxLength: 200 }),
          fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { maxLength: 6 }).map((edits) => {
            const b = Buffer.from(JSON.stringify(valid));
            for (const [at, v] of edits) b[at % b.length] = v;
            return b.toString("latin1");
          }),
          fc.constant("[".repeat(100_000)),
          fc.constant('{"maxModels":1e400}'),
          fc.constant('{"maxModels":-1}'),
          fc.constant('{"routes":[{"model":"\\ud800"}]}'),
        ),
        async (text) => {
          const r = await configure(text);
          expect(r.logs.join("\n")).not.toMatch(/Function failed/);
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe("duplicate keys and the rewrite", () => {
  it("a repeated stream_options: include_usage goes into the one the provider will read (the last)", async () => {
    const s = await sidecar({ pluginConfig: { providers: [{ name: "p", hosts: ["llm.example"], api: "openai", includeUsage: true }] } });
    const r = s.call({
      request: {
        method: "POST",
        path: "/v1/chat/completions",
        authority: "llm.example",
        headers: [["content-type", "application/json"]],
        body: '{"model":"m","stream":true,"stream_options":{"include_usage":false},"stream_options":{}}',
      },
      response: { status: 200, headers: [["content-type", "text/event-stream"]], body: "data: [DONE]\n\n" },
    });
    expect(JSON.parse(Buffer.from(r.upstreamRequest!.body).toString()).stream_options).toEqual({ include_usage: true });
  });
});
