// Chunking invariance: Envoy hands a body to the filter in chunks cut wherever the
// network cut it. For every API shape, any split of the request body and of the response body
// must give exactly the filter state, counters and bytes of the unsplit exchange, and those must
// be what the reference model (helpers/reference.ts) computes. In observe-only mode the bytes
// must pass unchanged; with routing the rewritten request must not depend on the split either.
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { anyCase, byApi, cuts, positions, type Case } from "./helpers/gen";
import { checkAgainstReference, cut, snap, STATE, type Snapshot } from "./helpers/harness";
import type { Exchange } from "../host";

const RUNS = Number(process.env.PROPERTY_RUNS ?? 150);

function exchange(c: Case, authority: string, reqChunks: Uint8Array[], respChunks: Uint8Array[]): Exchange {
  return {
    request: { method: "POST", path: c.path, authority, headers: c.requestHeaders, body: reqChunks },
    response: { status: c.status, headers: c.responseHeaders, body: respChunks },
  };
}

function comparable(s: Snapshot) {
  return {
    failed: s.failed,
    filterState: s.filterState,
    counters: s.counters,
    upstreamBody: s.upstreamBody,
    downstreamBody: s.downstreamBody,
  };
}

const latin1 = (b: Uint8Array) => Buffer.from(b).toString("latin1");

describe("chunking invariance, observe-only", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  for (const [api, arb] of Object.entries(byApi)) {
    it(`${api}: any split of request and response = unsplit = reference`, () => {
      fc.assert(
        fc.property(arb, cuts, cuts, (c, rq, rs) => {
          const whole = snap(s, exchange(c, "api.example.com", [c.request], [c.response]));
          const split = snap(
            s,
            exchange(
              c,
              "api.example.com",
              cut(c.request, positions(rq, c.request.length)),
              cut(c.response, positions(rs, c.response.length)),
            ),
          );
          expect(comparable(split)).toEqual(comparable(whole));
          expect(
            checkAgainstReference(whole, c.shape, c.request, { status: c.status, headers: c.responseHeaders, body: c.response }, c.path),
          ).toEqual([]);
          // observe-only: bytes untouched both ways
          expect(whole.upstreamBody).toBe(latin1(c.request));
          expect(whole.downstreamBody).toBe(latin1(c.response));
        }),
        { numRuns: RUNS },
      );
    });
  }

  it("cut right after every backslash, quote, CR, colon and digit, every shape", () => {
    const special = new Set([0x5c, 0x22, 0x0d, 0x0a, 0x3a, ...Array.from({ length: 10 }, (_, i) => 0x30 + i)]);
    const at = (b: Uint8Array) => {
      const out: number[] = [];
      b.forEach((c, i) => {
        if (special.has(c)) out.push(i + 1);
      });
      return out;
    };
    fc.assert(
      fc.property(anyCase, (c) => {
        const whole = snap(s, exchange(c, "api.example.com", [c.request], [c.response]));
        const split = snap(s, exchange(c, "api.example.com", cut(c.request, at(c.request)), cut(c.response, at(c.response))));
        expect(comparable(split)).toEqual(comparable(whole));
      }),
      { numRuns: 60 },
    );
  });

  it("one byte per chunk, every shape", () => {
    fc.assert(
      fc.property(anyCase, (c) => {
        const whole = snap(s, exchange(c, "api.example.com", [c.request], [c.response]));
        const bytes = (b: Uint8Array) => Array.from({ length: b.length }, (_, i) => b.subarray(i, i + 1));
        const split = snap(s, exchange(c, "api.example.com", bytes(c.request), bytes(c.response)));
        expect(comparable(split)).toEqual(comparable(whole));
      }),
      { numRuns: 30 },
    );
  });
});

describe("chunking invariance, with routing (rewrite)", () => {
  let s: Sidecar;
  const config = {
    providers: [
      { name: "oai", hosts: ["llm.example"], api: "openai", model: "routed-default", includeUsage: true },
      { name: "ds", hosts: ["ds.example"], api: "dashscope", model: "qwen-turbo" },
      { name: "an", hosts: ["an.example"], api: "anthropic", model: "claude-haiku" },
    ],
    routes: [{ name: "gold", match: { headers: [{ name: "x-tier", exact: "gold" }] }, model: "gold-model", modelPolicy: "override" }],
  };
  beforeAll(async () => {
    s = await sidecar({ pluginConfig: config });
  });
  // Shapes whose model is in the body (a model in the URL path is never rewritten: see below).
  const authorityFor: Record<string, string> = {
    openai: "llm.example",
    embeddings: "llm.example",
    dashscope: "ds.example",
    anthropic: "an.example",
    responses: "llm.example",
  };

  it("any split gives the same rewritten request, state and counters", () => {
    fc.assert(
      fc.property(
        anyCase.filter((c) => c.api in authorityFor),
        cuts,
        cuts,
        fc.boolean(),
        (c, rq, rs, gold) => {
          const cc = { ...c, requestHeaders: [...c.requestHeaders, ...(gold ? [["x-tier", "gold"] as [string, string]] : [])] };
          const authority = authorityFor[c.api];
          const whole = snap(s, exchange(cc, authority, [c.request], [c.response]));
          const split = snap(
            s,
            exchange(cc, authority, cut(c.request, positions(rq, c.request.length)), cut(c.response, positions(rs, c.response.length))),
          );
          expect(comparable(split)).toEqual(comparable(whole));
          expect(whole.failed).toBe(false);
          // the model reported is the one that went upstream
          const sent = JSON.parse(whole.upstreamBody);
          expect(whole.filterState[STATE + "request_model"]).toBe(
            typeof sent.model === "string" && sent.model.length > 0
              ? Buffer.from(sent.model, "latin1")
                  .toString("utf8")
                  .replace(/[\x00-\x1f\x7f]/g, "_")
              : undefined,
          );
          if (gold) expect(sent.model).toBe("gold-model");
          expect(whole.downstreamBody).toBe(latin1(c.response));
        },
      ),
      { numRuns: RUNS },
    );
  });
});

describe("routing a shape whose model is in the URL path", () => {
  it("Gemini and Bedrock: a routed model leaves body and path alone; the model reported is the path's", async () => {
    const s = await sidecar({
      pluginConfig: {
        providers: [
          { name: "g", hosts: ["generativelanguage.googleapis.com"], api: "gemini", model: "gemini-2.5-pro", apiKey: "AIza-test" },
        ],
      },
    });
    for (const [path, model] of [
      ["/v1beta/models/gemini-2.5-flash:generateContent", "gemini-2.5-flash"],
      ["/model/amazon.nova-lite-v1%3A0/converse", "amazon.nova-lite-v1:0"],
    ]) {
      const body = '{"contents":[{"role":"user","parts":[{"text":"hi"}]}]}';
      const r = snap(s, {
        request: {
          method: "POST",
          path,
          authority: "generativelanguage.googleapis.com",
          headers: [["content-type", "application/json"]],
          body,
        },
        response: { status: 200, headers: [["content-type", "application/json"]], body: "{}" },
      });
      expect(r.upstreamBody).toBe(body);
      expect(r.filterState[STATE + "request_model"]).toBe(model);
    }
  });
});
