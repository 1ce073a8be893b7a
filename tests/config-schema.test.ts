// config/schema.json is the one description of the configuration (issue 23): the parser's
// allowed keys and bounds and the docs' table are generated from it, and on every case below
// the schema (Ajv) and the parser (on_configure in the filter) give the same verdict - including
// each point on which the former hand-written test schema and the parser disagreed.
import Ajv from "ajv";
import { describe, expect, it } from "vitest";
import { generate, loadSchema } from "../scripts/config-schema.mjs";
import { configure } from "./helpers/sidecar";

const schema = loadSchema();
// x-doc-*: annotations for the docs table (scripts/config-schema.mjs), not validation keywords.
const validate = new Ajv({ allErrors: true, keywords: ["x-doc-type", "x-doc-default"] }).compile(schema);

const provider = { name: "p", hosts: ["api.example.com"] };
const route = (extra: object) => ({ providers: [provider], routes: [{ name: "r", ...extra }] });
const header = (m: object) => route({ model: "m", match: { headers: [{ name: "x-tier", ...m }] } });

/** [label, configuration]: the parser and the schema must agree on each. */
const CASES: [string, object][] = [
  ["empty", {}],
  [
    "every top-level key",
    {
      providers: [],
      routes: [],
      apiPaths: [{ suffix: "/x", api: "anthropic" }],
      maxRewriteBodyBytes: 1024,
      maxModels: 5,
      modelAllowList: ["a"],
      maxDestinations: 3,
      debug: true,
    },
  ],
  ["unknown top-level key", { defaultModel: "x" }],
  [
    "provider with api, apiKey",
    {
      providers: [
        {
          ...provider,
          api: "gemini",
          apiKey: "k",
          apiKeyEnv: "K",
          path: "/v1",
          model: "m",
          includeUsage: false,
          dropAcceptEncoding: false,
        },
      ],
    },
  ],
  ["provider with unknown api", { providers: [{ ...provider, api: "cohere" }] }],
  ["provider without hosts", { providers: [{ name: "p" }] }],
  ["provider with empty hosts", { providers: [{ name: "p", hosts: [] }] }],
  ["host with a port", { providers: [{ name: "p", hosts: ["a.example:443"] }] }],
  ["host in upper case", { providers: [{ name: "p", hosts: ["A.example"] }] }],
  ["path without /", { providers: [{ ...provider, path: "v1" }] }],
  ["route with model only", route({ model: "m" })],
  ["route with provider only", route({ provider: "p" })],
  ["route with neither model nor provider", route({ match: {} })],
  ["header exact", header({ exact: "gold" })],
  ["header prefix", header({ prefix: "g" })],
  ["header suffix", header({ suffix: "d" })],
  ["header contains", header({ contains: "ol" })],
  ["header present", header({ present: true })],
  ["header present false", header({ present: false })],
  ["header regex", header({ regex: "g.*" })],
  ["header with two matches", header({ exact: "a", prefix: "b" })],
  ["header with no match", header({})],
  ["header with empty value", header({ exact: "" })],
  ["modelPolicy default", route({ model: "m", modelPolicy: "default" })],
  ["modelPolicy bogus", route({ model: "m", modelPolicy: "always" })],
  ["apiPaths contains", { apiPaths: [{ contains: "/chat" }] }],
  ["apiPaths with two matches", { apiPaths: [{ exact: "/a", suffix: "/b" }] }],
  ["apiPaths unknown api", { apiPaths: [{ exact: "/a", api: "x" }] }],
  ["maxModels 0", { maxModels: 0 }],
  ["maxModels 10001", { maxModels: 10001 }],
  ["maxModels 1.5", { maxModels: 1.5 }],
  ["maxRewriteBodyBytes at its maximum", { maxRewriteBodyBytes: 67108864 }],
  ["maxRewriteBodyBytes over it", { maxRewriteBodyBytes: 67108865 }],
  ["debug as a string", { debug: "yes" }],
  ["modelAllowList with an empty name", { modelAllowList: [""] }],
  ["modelAllowList at its bound", { modelAllowList: Array.from({ length: 10000 }, (_, i) => `model-${i}`) }],
  ["modelAllowList over its bound", { modelAllowList: Array.from({ length: 10001 }, (_, i) => `model-${i}`) }],
  ["modelAllowList name of 256 bytes", { modelAllowList: ["m".repeat(256)] }],
  ["modelAllowList name of 257 bytes", { modelAllowList: ["m".repeat(257)] }],
];

describe("config/schema.json", () => {
  it("the generated parser keys (assembly/config-schema.ts) and docs table (docs/configuration.md) are up to date", () => {
    expect(generate({ check: true })).toEqual([]);
  });

  it("names the same API shapes as the parser", async () => {
    const r = await configure({ providers: [{ ...provider, api: "?" }] });
    const names = /expected one of ([^,]+(?:, [^,']+)*), got/.exec(r.logs.join("\n"))?.[1].split(", ");
    expect(names).toEqual(schema.properties.providers.items.properties.api.enum);
    expect(schema.properties.apiPaths.items.properties.api.enum).toEqual(names);
  });

  it.each(CASES)("schema and parser agree: %s", async (_label, config) => {
    const bySchema = validate(config);
    const byParser = await configure(config);
    expect(byParser.ok, `schema: ${bySchema} ${JSON.stringify(validate.errors)}; parser: ${byParser.logs.join(" | ")}`).toBe(bySchema);
  });

  it("modelAllowList past its bound is rejected naming the field and the bound", async () => {
    const r = await configure({ modelAllowList: Array.from({ length: 10001 }, (_, i) => `m${i}`) });
    expect(r.ok).toBe(false);
    expect(r.logs.join("\n")).toContain("modelAllowList: at most 10000 entries, got 10001");
  });
});
