// Checks the manifests under manifests/ the way the cluster would, plus the seed's contract:
//  - every Istio resource validates against the OpenAPI v3 schema of its kind+version in
//    tests/fixtures/istio/crds.yaml (with unknown fields rejected, as `kubectl apply` does with
//    its default strict field validation), and against the CRDs' x-kubernetes-validations CEL
//    rules (tests/helpers/crd-validator.ts);
//  - the validator is shown to reject broken copies;
//  - plain Kubernetes kinds get a structural check;
//  - the seed's names and values: the four stats_tags, the bootstrapOverride annotation, the
//    access-log filter-state fields, the `model` dimension of REQUEST_COUNT;
//  - cross-references between the files (selectors, Secret -> proxy env -> VM env, hosts, ports).
import { readFileSync } from "node:fs";
import { join } from "node:path";
import Ajv from "ajv";
import { loadSchema as loadConfigSchema } from "../scripts/config-schema.mjs";
import { parse as parseYaml } from "yaml";
import { describe, expect, it } from "vitest";
import {
  accessLogFormat,
  bootstrapStatsTags,
  canonicalJson,
  customBootstrap,
  demoWorkload,
  extensionProviders,
  findManifest,
  loadManifestEntries,
  loadManifests,
  repoRoot,
  resolveWasmPluginEnv,
  telemetryTagOverrides,
  wasmPluginConfig,
  wasmPluginEnv,
  wasmPluginRootId,
  wasmPluginSpec,
  type K8sObject,
  type ManifestEntry,
} from "../repo/manifests";
import {
  admissionErrors,
  celCheck,
  celSites,
  CEL_RULES,
  crdVersions,
  DNS_LABEL,
  DNS_SUBDOMAIN,
  isIstio,
  schemaErrors,
} from "./helpers/crd-validator";

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

const entries: ManifestEntry[] = loadManifestEntries();
const istioEntries = entries.filter((e) => isIstio(e.doc));
const otherEntries = entries.filter((e) => !isIstio(e.doc));
const label = (e: ManifestEntry) => `${e.file}#${e.index} ${e.doc.kind}/${e.doc.metadata?.name}`;
const clone = <T>(x: T): T => structuredClone(x);

const wasmPlugin = () => clone(findManifest("WasmPlugin", "asm-llm-proxy"));
const telemetry = () => clone(findManifest("Telemetry", "asm-llm-proxy"));
const serviceEntry = () => clone(findManifest("ServiceEntry", "dashscope"));
const destinationRule = () => clone(findManifest("DestinationRule", "dashscope"));

// The seed's exact values.
const SEED_STATS_TAGS = [
  { tag_name: "llmproxy_source_workload", regex: "(\\|llmproxy_source_workload=([^|]*))" },
  { tag_name: "llmproxy_source_workload_namespace", regex: "(\\|llmproxy_source_workload_namespace=([^|]*))" },
  { tag_name: "llmproxy_destination_service", regex: "(\\|llmproxy_destination_service=([^|]*))" },
  { tag_name: "llmproxy_model", regex: "(\\|llmproxy_model=([^|]*))" },
];
const SEED_FILTER_STATE_FIELDS = {
  request_model: "%FILTER_STATE(wasm.asm.llmproxy.request_model:PLAIN)%",
  request_prompt_tokens: "%FILTER_STATE(wasm.asm.llmproxy.request_prompt_tokens:PLAIN)%",
  request_completion_tokens: "%FILTER_STATE(wasm.asm.llmproxy.request_completion_tokens:PLAIN)%",
};
// The seed reads `request_model`; the manifest reads the label-safe key the filter publishes for
// this purpose (valid UTF-8, bounded, folded like llmproxy_model: tests/envoy-istio-label.test.ts).
const MODEL_TAG = "filter_state['wasm.asm.llmproxy.request_model_label']";

// ---------------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------------

describe("manifest files", () => {
  it("load, and hold the expected objects", () => {
    const names = entries.map((e) => `${e.doc.kind}/${e.doc.metadata?.namespace}/${e.doc.metadata?.name}`).sort();
    expect(names).toEqual(
      [
        "ConfigMap/default/asm-llm-proxy-bootstrap-config",
        "ConfigMap/istio-system/istio",
        "Deployment/default/sleep",
        "DestinationRule/default/dashscope",
        "EnvoyFilter/default/asm-llm-proxy-decompressor",
        "Secret/default/dashscope-api-key",
        "Service/default/sleep",
        "ServiceAccount/default/sleep",
        "ServiceEntry/default/dashscope",
        "Telemetry/istio-system/asm-llm-proxy",
        "TrafficExtension/default/asm-llm-proxy",
        "WasmPlugin/default/asm-llm-proxy",
        "WasmPlugin/default/asm-llm-proxy-observe-only",
        "WasmPlugin/default/asm-llm-proxy-server",
      ].sort(),
    );
  });

  it("every file explains itself with a leading comment", () => {
    for (const file of new Set(entries.map((e) => e.file))) {
      expect(readFileSync(join(repoRoot, file), "utf8").startsWith("#"), file).toBe(true);
    }
  });

  it("every object names its namespace explicitly", () => {
    for (const e of entries) expect(e.doc.metadata?.namespace, label(e)).toMatch(/^(default|istio-system)$/);
  });

  it("kustomization.yaml lists every file except the mesh-config fragment and the alternative example", () => {
    const k = parseYaml(readFileSync(join(repoRoot, "manifests", "kustomization.yaml"), "utf8"));
    const expected = [...new Set(entries.map((e) => e.file.replace(/^manifests\//, "")))]
      .filter((f) => f !== "mesh-config.yaml" && !f.startsWith("examples/"))
      .sort();
    expect([...k.resources].sort()).toEqual(expected);
  });
});

describe("CRD schemas (tests/fixtures/istio/crds.yaml)", () => {
  it("are present, with the kinds our manifests use", () => {
    const kinds = new Set(crdVersions().map((c) => `${c.kind}/${c.version}`));
    for (const k of ["WasmPlugin/v1alpha1", "Telemetry/v1", "ServiceEntry/v1", "DestinationRule/v1", "EnvoyFilter/v1alpha3"])
      expect(kinds.has(k), k).toBe(true);
  });

  it.each(istioEntries.map((e) => [label(e), e] as const))("%s validates against its CRD schema", (_, e) => {
    expect(schemaErrors(e.doc)).toEqual([]);
  });

  it("Istio resources use the most stable served version of their kind", () => {
    // v1 > v1beta1 > v1alpha3 > v1alpha1. (Not the storage version: Telemetry still stores v1alpha1.)
    const rank = (v: string) => ["v1alpha1", "v1alpha2", "v1alpha3", "v1beta1", "v1"].indexOf(v);
    for (const e of istioEntries) {
      const served = crdVersions().filter((c) => c.kind === e.doc.kind && c.served);
      const best = served.sort((a, b) => rank(b.version) - rank(a.version))[0];
      expect(e.doc.apiVersion, label(e)).toBe(`${best.group}/${best.version}`);
    }
  });
});

describe("CEL validations (x-kubernetes-validations)", () => {
  it("every rule in the schemas of our kinds has a JS implementation", () => {
    const used = new Set(istioEntries.map((e) => `${e.doc.apiVersion}/${e.doc.kind}`));
    const sites = crdVersions()
      .filter((c) => used.has(`${c.group}/${c.version}/${c.kind}`))
      .flatMap((c) => celSites(c.schema).map((s) => ({ ...s, kind: c.kind })));
    expect(sites.length).toBeGreaterThan(0);
    const missing = [...new Set(sites.filter((s) => !CEL_RULES[s.rule]).map((s) => `${s.kind}${s.path}: ${s.rule}`))];
    expect(missing).toEqual([]);
    // No rule sits under oneOf/anyOf/allOf, where runCel does not descend.
    expect(sites.filter((s) => s.path.includes("<"))).toEqual([]);
  });

  it.each(istioEntries.map((e) => [label(e), e] as const))("%s satisfies its CEL rules", (_, e) => {
    const r = celCheck(e.doc);
    expect(r.unimplemented).toEqual([]);
    expect(r.violations).toEqual([]);
  });

  it("TrafficExtension example: same pluginConfig as the WasmPlugin; wasm xor lua enforced", () => {
    const te: any = findManifest("TrafficExtension", "asm-llm-proxy");
    const wp: any = findManifest("WasmPlugin", "asm-llm-proxy");
    expect(te.spec.wasm.pluginConfig).toEqual(wp.spec.pluginConfig);
    expect(te.spec.wasm.vmConfig).toEqual(wp.spec.vmConfig);
    const reached = new Set(celCheck(te).checked.map((x) => x.message));
    expect(reached).toContain("exactly one of wasm or lua must be set");
    const both = clone(te) as any;
    both.spec.lua = { inlineCode: "function envoy_on_request(h) end" };
    expect(celCheck(both).violations.map((v: any) => v.message ?? v)).toEqual(
      expect.arrayContaining([expect.stringContaining("exactly one of wasm or lua must be set")]),
    );
  });

  it("the rules that matter are actually reached by our manifests", () => {
    const reached = (o: K8sObject) => new Set(celCheck(o).checked.map((s) => s.message));
    const wp = reached(wasmPlugin());
    expect(wp).toContain("url must have schema one of [http, https, file, oci]");
    expect(wp).toContain("only one of targetRefs or selector can be set");
    expect(wp).toContain("value may only be set when valueFrom is INLINE");
    expect(wp).toContain("wildcard not allowed in label value match");
    const tel = reached(telemetry());
    expect(tel).toContain("value must be set when operation is UPSERT");
    expect(tel).toContain("value must not be set when operation is REMOVE");
    const se = reached(serviceEntry());
    for (const m of [
      "hostname cannot be wildcard",
      "port number cannot be duplicated",
      "port must be between 1-65535",
      "NONE mode cannot set endpoints",
    ]) {
      expect(se).toContain(m);
    }
  });

  describe("each implemented rule rejects what the API server would", () => {
    const rejects = (o: K8sObject, message: string) => expect(celCheck(o).violations.join("\n")).toContain(message);

    it("WasmPlugin: selector and targetRefs are mutually exclusive", () => {
      const o: any = wasmPlugin();
      o.spec.targetRefs = [{ kind: "Gateway", group: "gateway.networking.k8s.io", name: "gw" }];
      rejects(o, "only one of targetRefs or selector can be set");
      delete o.spec.selector;
      expect(celCheck(o).violations).toEqual([]);
    });

    it("WasmPlugin: url scheme must be oci/http/https/file (schemeless means oci)", () => {
      const url = (u: string) => {
        const o: any = wasmPlugin();
        o.spec.url = u;
        return celCheck(o).violations;
      };
      for (const ok of [
        "oci://ghcr.io/a/b:1",
        "https://example.com/x.wasm",
        "file:///var/local/x.wasm",
        "ghcr.io/a/b:1",
        "/var/local/x.wasm",
      ])
        expect(url(ok), ok).toEqual([]);
      for (const bad of ["ftp://example.com/x.wasm", "s3://bucket/x.wasm"]) expect(url(bad).join(), bad).toContain("url must have schema");
    });

    it("WasmPlugin: an env var read from HOST cannot also carry a value", () => {
      const o: any = wasmPlugin();
      o.spec.vmConfig.env[0].value = "sk-leaked";
      rejects(o, "value may only be set when valueFrom is INLINE");
      o.spec.vmConfig.env[0].valueFrom = "INLINE";
      expect(celCheck(o).violations).toEqual([]);
    });

    it("WasmPlugin: sha256 must be 64 lowercase hex (schema pattern)", () => {
      const o: any = wasmPlugin();
      o.spec.sha256 = "abc";
      expect(schemaErrors(o).join()).toMatch(/sha256.*pattern/);
      o.spec.sha256 = "a".repeat(64);
      expect(schemaErrors(o)).toEqual([]);
    });

    it("selectors: no wildcards, no empty keys", () => {
      const o: any = wasmPlugin();
      o.spec.selector.matchLabels = { "app*": "x" };
      rejects(o, "wildcard not allowed in label key match");
      o.spec.selector.matchLabels = { app: "sle*" };
      rejects(o, "wildcard not allowed in label value match");
      o.spec.selector.matchLabels = { "": "x" };
      rejects(o, "key must not be empty");
    });

    it("Telemetry: UPSERT needs a value, REMOVE must not have one", () => {
      const o: any = telemetry();
      o.spec.metrics[0].overrides[0].tagOverrides.model = { operation: "UPSERT", value: "" };
      rejects(o, "value must be set when operation is UPSERT");
      o.spec.metrics[0].overrides[0].tagOverrides.model = { operation: "UPSERT" };
      rejects(o, "value must be set when operation is UPSERT");
      o.spec.metrics[0].overrides[0].tagOverrides.model = { operation: "REMOVE", value: "x" };
      rejects(o, "value must not be set when operation is REMOVE");
    });

    it("Telemetry: reportingInterval must be a duration of at least 1ms", () => {
      const o: any = telemetry();
      o.spec.metrics[0].reportingInterval = "500us";
      rejects(o, "must be a valid duration greater than 1ms");
      o.spec.metrics[0].reportingInterval = "ten seconds";
      rejects(o, "must be a valid duration greater than 1ms");
      o.spec.metrics[0].reportingInterval = "1m30s";
      expect(celCheck(o).violations).toEqual([]);
    });

    it("ServiceEntry: no wildcard host, unique in-range ports, endpoints only with a resolution that allows them", () => {
      let o: any = serviceEntry();
      o.spec.hosts.push("*");
      rejects(o, "hostname cannot be wildcard");
      o = serviceEntry();
      o.spec.ports.push({ number: 80, name: "http2", protocol: "HTTP" });
      rejects(o, "port number cannot be duplicated");
      o = serviceEntry();
      o.spec.ports[0].targetPort = 70000;
      rejects(o, "port must be between 1-65535");
      o = serviceEntry();
      o.spec.resolution = "NONE";
      o.spec.endpoints = [{ address: "1.2.3.4" }];
      rejects(o, "NONE mode cannot set endpoints");
      o = serviceEntry();
      o.spec.addresses = ["10.0.0.0/8"];
      rejects(o, "CIDR addresses are allowed only for NONE/STATIC resolution types");
      o = serviceEntry();
      o.spec.resolution = "DNS_ROUND_ROBIN";
      o.spec.endpoints = [{ address: "a.example" }, { address: "b.example" }];
      rejects(o, "DNS_ROUND_ROBIN mode cannot have multiple endpoints");
      o = serviceEntry();
      o.spec.endpoints = [{ ports: { "bad_name!": 80 } }];
      rejects(o, "Address is required");
      rejects(o, "port name must be valid");
      o = serviceEntry();
      o.spec.endpoints = [{ address: "unix://relative/", ports: { http: 80 } }];
      rejects(o, "UDS may not include ports");
      rejects(o, "UDS must be an absolute path or abstract socket");
      rejects(o, "UDS may not be a dir");
    });

    it("DestinationRule: durations must be at least 1ms", () => {
      const o: any = destinationRule();
      o.spec.trafficPolicy.portLevelSettings[0].connectionPool = { tcp: { connectTimeout: "0s" } };
      rejects(o, "must be a valid duration greater than 1ms");
      o.spec.trafficPolicy.portLevelSettings[0].connectionPool = { tcp: { connectTimeout: "10s" } };
      expect(celCheck(o).violations).toEqual([]);
    });
  });
});

describe("the validator bites: broken copies are rejected", () => {
  const broken: [string, () => K8sObject, RegExp][] = [
    [
      "unknown field in WasmPlugin spec",
      () => Object.assign(wasmPlugin(), { spec: { ...(wasmPlugin() as any).spec, pluginConfg: {} } }),
      /additionalProperty":"pluginConfg"/,
    ],
    [
      "failStrategy: FAIL_SOMETIMES",
      () => {
        const o: any = wasmPlugin();
        o.spec.failStrategy = "FAIL_SOMETIMES";
        return o;
      },
      /\/spec\/failStrategy must be equal to one of the allowed values/,
    ],
    [
      "match mode: SIDEWAYS",
      () => {
        const o: any = wasmPlugin();
        o.spec.match = [{ mode: "SIDEWAYS" }];
        return o;
      },
      /\/spec\/match\/0\/mode must be equal to one of the allowed values/,
    ],
    [
      "phase: ROUTING",
      () => {
        const o: any = wasmPlugin();
        o.spec.phase = "ROUTING";
        return o;
      },
      /\/spec\/phase must be equal to one of/,
    ],
    [
      "priority as a string",
      () => {
        const o: any = wasmPlugin();
        o.spec.priority = "high";
        return o;
      },
      /\/spec\/priority must be integer/,
    ],
    [
      "WasmPlugin without url",
      () => {
        const o: any = wasmPlugin();
        delete o.spec.url;
        return o;
      },
      /required property 'url'/,
    ],
    [
      "vmConfig.env valueFrom: SECRET",
      () => {
        const o: any = wasmPlugin();
        o.spec.vmConfig.env[0].valueFrom = "SECRET";
        return o;
      },
      /valueFrom must be equal to one of/,
    ],
    [
      "selector and targetRefs (CEL)",
      () => {
        const o: any = wasmPlugin();
        o.spec.targetRefs = [{ kind: "Service", name: "x" }];
        return o;
      },
      /only one of targetRefs or selector can be set/,
    ],
    [
      "misspelled metadata field",
      () => {
        const o: any = wasmPlugin();
        o.metadata.namepsace = "default";
        return o;
      },
      /additionalProperty":"namepsace"/,
    ],
    [
      "invalid metadata.name",
      () => {
        const o: any = wasmPlugin();
        o.metadata.name = "ASM_LLM_PROXY";
        return o;
      },
      /\/metadata\/name must match pattern/,
    ],
    [
      "wrong apiVersion for the kind",
      () => {
        const o: any = wasmPlugin();
        o.apiVersion = "extensions.istio.io/v1";
        return o;
      },
      /no CRD schema for WasmPlugin extensions.istio.io\/v1 /,
    ],
    [
      "Telemetry metric REQUEST_TOKENS",
      () => {
        const o: any = telemetry();
        o.spec.metrics[0].overrides[0].match.metric = "REQUEST_TOKENS";
        return o;
      },
      /match\/metric must be equal to one of/,
    ],
    [
      "Telemetry match with both metric and customMetric (oneOf)",
      () => {
        const o: any = telemetry();
        o.spec.metrics[0].overrides[0].match.customMetric = "x";
        return o;
      },
      /must match exactly one schema in oneOf/,
    ],
    [
      "Telemetry tagOverride operation MERGE",
      () => {
        const o: any = telemetry();
        o.spec.metrics[0].overrides[0].tagOverrides.model.operation = "MERGE";
        return o;
      },
      /operation must be equal to one of/,
    ],
    [
      "Telemetry accessLogging provider without name",
      () => {
        const o: any = telemetry();
        o.spec.accessLogging[0].providers = [{}];
        return o;
      },
      /required property 'name'/,
    ],
    [
      "ServiceEntry resolution: MAGIC",
      () => {
        const o: any = serviceEntry();
        o.spec.resolution = "MAGIC";
        return o;
      },
      /\/spec\/resolution must be equal to one of/,
    ],
    [
      "ServiceEntry location: MESH_SOMEWHERE",
      () => {
        const o: any = serviceEntry();
        o.spec.location = "MESH_SOMEWHERE";
        return o;
      },
      /\/spec\/location must be equal to one of/,
    ],
    [
      "ServiceEntry port as a string",
      () => {
        const o: any = serviceEntry();
        o.spec.ports[0].number = "80";
        return o;
      },
      /\/spec\/ports\/0\/number must be integer/,
    ],
    [
      "ServiceEntry wildcard host (CEL)",
      () => {
        const o: any = serviceEntry();
        o.spec.hosts = ["*"];
        return o;
      },
      /hostname cannot be wildcard/,
    ],
    [
      "DestinationRule tls mode: SOMETIMES",
      () => {
        const o: any = destinationRule();
        o.spec.trafficPolicy.portLevelSettings[0].tls.mode = "SOMETIMES";
        return o;
      },
      /tls\/mode must be equal to one of/,
    ],
    [
      "DestinationRule tls with unknown field",
      () => {
        const o: any = destinationRule();
        o.spec.trafficPolicy.portLevelSettings[0].tls.serverName = "x";
        return o;
      },
      /additionalProperty":"serverName"/,
    ],
  ];
  it.each(broken)("%s", (_, make, expected) => {
    expect(admissionErrors(make()).join("\n")).toMatch(expected);
  });

  it("the unbroken originals pass the same check", () => {
    for (const o of [wasmPlugin(), telemetry(), serviceEntry(), destinationRule()]) expect(admissionErrors(o)).toEqual([]);
  });

  it("pluginConfig is free-form to Istio (x-kubernetes-preserve-unknown-fields), so its shape is checked below", () => {
    const o: any = wasmPlugin();
    o.spec.pluginConfig.anything = { goes: [1, 2] };
    expect(admissionErrors(o)).toEqual([]);
  });
});

describe("non-Istio kinds: structural check", () => {
  const CORE: Record<string, string> = { ConfigMap: "v1", Secret: "v1", Service: "v1", ServiceAccount: "v1", Deployment: "apps/v1" };
  it.each(otherEntries.map((e) => [label(e), e] as const))("%s", (_, e) => {
    const o: any = e.doc;
    expect(CORE[o.kind], `unexpected kind ${o.kind}`).toBeDefined();
    expect(o.apiVersion).toBe(CORE[o.kind]);
    expect(o.metadata.name).toMatch(new RegExp(DNS_SUBDOMAIN));
    if (o.kind === "ConfigMap" || o.kind === "Secret") {
      const data = { ...(o.data ?? {}), ...(o.stringData ?? {}) };
      expect(Object.keys(data).length).toBeGreaterThan(0);
      for (const [k, v] of Object.entries(data)) {
        expect(k).toMatch(/^[-._a-zA-Z0-9]+$/);
        expect(typeof v, k).toBe("string");
      }
    }
    if (o.kind === "Deployment") {
      expect(o.spec.selector.matchLabels).toBeDefined();
      for (const [k, v] of Object.entries(o.spec.selector.matchLabels)) expect(o.spec.template.metadata.labels[k]).toBe(v);
      expect(o.spec.template.spec.containers.length).toBeGreaterThan(0);
      for (const c of o.spec.template.spec.containers) {
        expect(c.name).toMatch(new RegExp(DNS_LABEL));
        expect(typeof c.image).toBe("string");
      }
    }
    if (o.kind === "Service") {
      for (const p of o.spec.ports) expect(Number.isInteger(p.port)).toBe(true);
    }
  });
});

describe("bootstrap stats_tags (seed §2)", () => {
  it("custom_bootstrap.json is valid JSON holding only stats_config.stats_tags and histogram_bucket_settings", () => {
    expect(Object.keys(customBootstrap())).toEqual(["stats_config"]);
    expect(Object.keys((customBootstrap() as any).stats_config)).toEqual(["stats_tags", "histogram_bucket_settings"]);
  });

  it("holds the seed's four tags first, in order, with the exact regexes", () => {
    expect(bootstrapStatsTags().slice(0, 4)).toEqual(SEED_STATS_TAGS);
  });

  it("adds the diagnostics, finish-reason and error-type tags after the seed's four, then the opt-in identity and OpenTelemetry ones", () => {
    const tag = (name: string) => ({ tag_name: name, regex: `(\\|${name}=([^|]*))` });
    expect(bootstrapStatsTags().slice(4)).toEqual(
      [
        "llmproxy_reason",
        "llmproxy_label",
        "llmproxy_finish_reason",
        "llmproxy_error_type",
        "llmproxy_source_service_account",
        "llmproxy_source_principal",
        "llmproxy_api_key_hash",
        "llmproxy_team",
        "gen_ai_operation_name",
        "gen_ai_provider_name",
        "gen_ai_request_model",
        "gen_ai_response_model",
        "gen_ai_token_type",
        "server_address",
      ].map(tag),
    );
  });

  it("every identity header label an example WasmPlugin enables has its stats_tags regex", () => {
    const tags = new Set(bootstrapStatsTags().map((t) => t.tag_name));
    const plugins = entries.filter((e) => e.doc.kind === "WasmPlugin").map((e) => e.doc as any);
    const labels = plugins.flatMap((p) => (p.spec.pluginConfig?.identity?.headers ?? []).map((h: any) => `llmproxy_${h.label}`));
    for (const l of labels) expect(tags.has(l), l).toBe(true);
  });

  it("server-side example: inbound (match mode SERVER, direction inbound) with the caller's identity labels", () => {
    const wp: any = findManifest("WasmPlugin", "asm-llm-proxy-server");
    expect(wp.spec.match).toEqual([{ mode: "SERVER" }]);
    expect(wp.spec.pluginConfig.direction).toBe("inbound");
    expect(wp.spec.pluginConfig.identity).toMatchObject({ serviceAccount: true, principal: true });
    expect(wp.spec.pluginConfig.providers).toBeUndefined();
  });

  it("the regexes turn the filter's stat name into the seed's Prometheus labels (Envoy tag extraction)", () => {
    // Envoy applies each tag regex in order: group 1 is removed from the name, group 2 is the value.
    let name =
      "asm_llm_proxy_prompt_tokens|llmproxy_source_workload=sleep|llmproxy_source_workload_namespace=default" +
      "|llmproxy_destination_service=dashscope.aliyuncs.com|llmproxy_model=qwen-turbo";
    const tags: [string, string][] = [];
    for (const t of bootstrapStatsTags().slice(0, 4)) {
      const m = new RegExp(t.regex).exec(name);
      expect(m, t.tag_name).not.toBeNull();
      tags.push([t.tag_name, m![2]]);
      name = name.replace(m![1], "");
    }
    expect(name).toBe("asm_llm_proxy_prompt_tokens");
    expect(tags).toEqual([
      ["llmproxy_source_workload", "sleep"],
      ["llmproxy_source_workload_namespace", "default"],
      ["llmproxy_destination_service", "dashscope.aliyuncs.com"],
      ["llmproxy_model", "qwen-turbo"],
    ]);
  });
});

describe("demo workload", () => {
  const deployment: any = () => findManifest("Deployment", "sleep");

  it("is sleep in default, opting into the bootstrap override by annotation naming the ConfigMap", () => {
    const w = demoWorkload();
    expect(w.name).toBe("sleep");
    expect(w.namespace).toBe("default");
    expect(w.annotations["sidecar.istio.io/bootstrapOverride"]).toBe("asm-llm-proxy-bootstrap-config");
    // The ConfigMap must be in the pod's namespace.
    const cm = findManifest("ConfigMap", w.annotations["sidecar.istio.io/bootstrapOverride"]);
    expect(cm.metadata.namespace).toBe(w.namespace);
  });

  it("runs curlimages/curl, like Istio's sample", () => {
    const sleep = deployment().spec.template.spec.containers.find((c: any) => c.name === "sleep");
    expect(sleep.image).toMatch(/^curlimages\/curl/);
  });

  it("is selected by the WasmPlugin (same namespace, selector matches the pod labels)", () => {
    const w = demoWorkload();
    for (const name of ["asm-llm-proxy", "asm-llm-proxy-observe-only"]) {
      const wp: any = findManifest("WasmPlugin", name);
      expect(wp.metadata.namespace).toBe(w.namespace);
      for (const [k, v] of Object.entries(wp.spec.selector.matchLabels)) expect(w.labels[k], k).toBe(v);
    }
  });

  it("feeds every HOST env var of the WasmPlugin from a Secret into the istio-proxy container", () => {
    const proxy = deployment().spec.template.spec.containers.find((c: any) => c.name === "istio-proxy");
    expect(proxy, "istio-proxy override container").toBeDefined();
    expect(proxy.image).toBe("auto");
    const hostVars = wasmPluginEnv().filter((e) => e.valueFrom === "HOST");
    expect(hostVars.map((e) => e.name)).toEqual(["DASHSCOPE_API_KEY"]);
    for (const v of hostVars) {
      const env = proxy.env.find((e: any) => e.name === v.name);
      expect(env, v.name).toBeDefined();
      const ref = env.valueFrom.secretKeyRef;
      const secret: any = findManifest("Secret", ref.name);
      expect(secret.metadata.namespace).toBe(demoWorkload().namespace);
      expect({ ...secret.data, ...secret.stringData }[ref.key], `${ref.name}.${ref.key}`).toBeDefined();
    }
  });
});

describe("access log (seed §1)", () => {
  it("the Telemetry enables the llm-access-log provider defined in the mesh config", () => {
    const t: any = telemetry();
    expect(t.spec.accessLogging[0].providers.map((p: any) => p.name)).toEqual(["llm-access-log"]);
    const p = extensionProviders().find((x) => x.name === "llm-access-log");
    expect(p?.envoyFileAccessLog?.path).toBe("/dev/stdout");
  });

  it("the labels print the seed's three filter-state keys with :PLAIN", () => {
    expect(accessLogFormat()).toMatchObject(SEED_FILTER_STATE_FIELDS);
  });

  it("and the seed's other fields, the extra filter-state keys and standard request fields", () => {
    expect(accessLogFormat()).toMatchObject({
      duration: "%DURATION%",
      response_code: "%RESPONSE_CODE%",
      authority_for: "%REQ(:AUTHORITY)%",
      response_model: "%FILTER_STATE(wasm.asm.llmproxy.response_model:PLAIN)%",
      request_total_tokens: "%FILTER_STATE(wasm.asm.llmproxy.request_total_tokens:PLAIN)%",
      start_time: "%START_TIME%",
      method: "%REQ(:METHOD)%",
      protocol: "%PROTOCOL%",
      upstream_host: "%UPSTREAM_HOST%",
      bytes_received: "%BYTES_RECEIVED%",
      bytes_sent: "%BYTES_SENT%",
    });
  });

  it("every label value is a well-formed Envoy command operator; FILTER_STATE ones name wasm.asm.llmproxy.* keys", () => {
    for (const [k, v] of Object.entries(accessLogFormat())) {
      expect(v, k).toMatch(/^%[A-Z_]+(\([^()%]+\))?%$/);
      if (v.startsWith("%FILTER_STATE(")) expect(v, k).toMatch(/^%FILTER_STATE\(wasm\.asm\.llmproxy\.[a-z_]+:PLAIN\)%$/);
    }
  });
});

describe("model dimension on istio_requests_total (seed §3)", () => {
  it("REQUEST_COUNT's `model` tag is exactly filter_state['wasm.asm.llmproxy.request_model_label'] (the seed's key, made label-safe)", () => {
    expect(telemetryTagOverrides()).toEqual({ model: MODEL_TAG });
    expect(telemetryTagOverrides("REQUEST_COUNT").model).toBe(MODEL_TAG);
  });

  it("applies on the client side (reporter=source), where the filter runs, via the prometheus provider", () => {
    const t: any = telemetry();
    expect(t.spec.metrics[0].providers).toEqual([{ name: "prometheus" }]);
    expect(t.spec.metrics[0].overrides[0].match).toEqual({ metric: "REQUEST_COUNT", mode: "CLIENT" });
    expect((wasmPlugin() as any).spec.match).toEqual([{ mode: "CLIENT" }]);
  });

  it("does not add the tag to other metrics", () => {
    expect(telemetryTagOverrides("REQUEST_DURATION")).toEqual({});
  });
});

describe("WasmPlugin", () => {
  it("is loaded from the placeholder OCI image, client side, with the chosen phase/priority/failStrategy", () => {
    const s: any = wasmPluginSpec();
    expect(s).toMatchObject({
      url: "oci://ghcr.io/asm-llm-proxy/asm-llm-proxy:0.1.0",
      imagePullPolicy: "IfNotPresent",
      type: "HTTP",
      phase: "STATS",
      priority: 100,
      failStrategy: "FAIL_OPEN",
      pluginName: "asm-llm-proxy",
    });
    expect(wasmPluginRootId()).toBe("asm-llm-proxy");
    expect(wasmPluginRootId("asm-llm-proxy-observe-only")).toBe("asm-llm-proxy");
  });

  it("pluginConfig reaches on_configure as compact, key-sorted JSON of exactly the YAML", () => {
    const json = wasmPluginConfig();
    expect(JSON.parse(json)).toEqual(wasmPluginSpec().pluginConfig);
    expect(json).toBe(canonicalJson(JSON.parse(json)));
    expect(json).not.toMatch(/\s/);
    expect(json.startsWith('{"acceptEncoding":"narrow","providers":[{"apiKeyEnv":"DASHSCOPE_API_KEY",')).toBe(true);
  });

  it("pluginConfig carries the seed's routing (Part 1)", () => {
    expect(JSON.parse(wasmPluginConfig())).toEqual({
      acceptEncoding: "narrow",
      providers: [
        {
          name: "dashscope",
          hosts: ["dashscope.aliyuncs.com"],
          path: "/compatible-mode/v1/chat/completions",
          apiKeyEnv: "DASHSCOPE_API_KEY",
          model: "qwen-1.8b-chat",
          includeUsage: true,
        },
      ],
      routes: [
        {
          name: "subscriber",
          match: { headers: [{ name: "user-type", exact: "subscriber" }] },
          model: "qwen-turbo",
          modelPolicy: "override",
        },
      ],
    });
  });

  it("pluginConfig has the filter's schema (config/schema.json, the parser's own description)", () => {
    const schema = loadConfigSchema();
    const validate = new Ajv({ allErrors: true, keywords: ["x-doc-type", "x-doc-default"] }).compile(schema);
    expect(validate(JSON.parse(wasmPluginConfig())), JSON.stringify(validate.errors)).toBe(true);
  });

  it("every provider's apiKeyEnv is in vmConfig.env, and resolves from the proxy's environment", () => {
    const cfg = JSON.parse(wasmPluginConfig());
    const env = wasmPluginEnv().map((e) => e.name);
    for (const p of cfg.providers) if (p.apiKeyEnv) expect(env).toContain(p.apiKeyEnv);
    expect(wasmPluginEnv()).toEqual([{ name: "DASHSCOPE_API_KEY", valueFrom: "HOST" }]);
    expect(resolveWasmPluginEnv({ DASHSCOPE_API_KEY: "sk-test", OTHER: "x" })).toEqual({ DASHSCOPE_API_KEY: "sk-test" });
    expect(resolveWasmPluginEnv({})).toEqual({});
  });

  it("the observe-only example sends no configuration and needs no key", () => {
    expect(wasmPluginConfig("asm-llm-proxy-observe-only")).toBe("");
    expect(wasmPluginEnv("asm-llm-proxy-observe-only")).toEqual([]);
    expect(wasmPluginSpec("asm-llm-proxy-observe-only").failStrategy).toBe("FAIL_OPEN");
  });
});

describe("egress to DashScope: plain HTTP on 80, TLS originated to 443", () => {
  it("every provider host is a MESH_EXTERNAL ServiceEntry host with an HTTP port 80 -> 443", () => {
    const se: any = serviceEntry();
    expect(se.spec.location).toBe("MESH_EXTERNAL");
    expect(se.spec.resolution).toBe("DNS");
    for (const p of JSON.parse(wasmPluginConfig()).providers) for (const h of p.hosts) expect(se.spec.hosts).toContain(h);
    expect(se.spec.ports).toContainEqual({ number: 80, name: "http", protocol: "HTTP", targetPort: 443 });
  });

  it("the DestinationRule originates TLS (SIMPLE, with SNI, the certificate's name checked) on the port-80 cluster of that host", () => {
    const dr: any = destinationRule();
    const se: any = serviceEntry();
    expect(se.spec.hosts).toContain(dr.spec.host);
    expect(dr.metadata.namespace).toBe(se.metadata.namespace);
    const [pls] = dr.spec.trafficPolicy.portLevelSettings;
    expect(pls.port.number).toBe(80);
    expect(se.spec.ports.find((p: any) => p.number === pls.port.number).targetPort).toBe(443);
    // subjectAltNames: with an explicit sni, pilot checks no certificate name unless they are
    // listed (cluster_tls.go); tests/istiod-envoy.test.ts runs the consequence in Envoy.
    expect(pls.tls).toEqual({ mode: "SIMPLE", sni: "dashscope.aliyuncs.com", subjectAltNames: [se.spec.hosts[0]] });
  });
});

describe("repo/manifests.ts loader", () => {
  it("loadManifests returns objects with kind/apiVersion/metadata, skipping kustomization.yaml", () => {
    const all = loadManifests();
    expect(all.length).toBe(entries.length);
    for (const o of all) {
      expect(typeof o.kind).toBe("string");
      expect(typeof o.apiVersion).toBe("string");
      expect(typeof o.metadata.name).toBe("string");
    }
    expect(all.some((o) => o.kind === "Kustomization")).toBe(false);
  });

  it("findManifest fails loudly on a missing object", () => {
    expect(() => findManifest("WasmPlugin", "nope")).toThrow(/exactly one WasmPlugin named nope/);
  });
});
