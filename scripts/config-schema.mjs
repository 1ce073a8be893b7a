#!/usr/bin/env node
// config/schema.json is the one description of the plugin configuration. From it this script
// generates (1) assembly/config-schema.ts: the keys the AssemblyScript parser (assembly/config.ts)
// allows in each object and the bounds of each integer field, and (2) the field table of
// docs/configuration.md (between the config-table markers). `scripts/build.mjs` regenerates both
// before compiling; `--check` (tests/config-schema.test.ts) fails when either is stale.
//
// Adding a field: add it to config/schema.json (type, bounds, default, description), run
// `node scripts/config-schema.mjs`, then read it in assembly/config.ts (the key is already
// allowed; an integer's bounds are <FIELD>_MIN/<FIELD>_MAX).
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const SCHEMA_FILE = join(root, "config", "schema.json");
export const AS_FILE = join(root, "assembly", "config-schema.ts");
export const DOC_FILE = join(root, "docs", "configuration.md");
const BEGIN = "<!-- config-table:begin (generated from config/schema.json by scripts/config-schema.mjs) -->";
const END = "<!-- config-table:end -->";

export function loadSchema() {
  return JSON.parse(readFileSync(SCHEMA_FILE, "utf8"));
}

/** camelCase / dotted path -> UPPER_SNAKE ("routes[].match.headers" -> ROUTES_MATCH_HEADERS). */
function constName(path) {
  return path
    .replaceAll("[]", "")
    .split(".")
    .filter(Boolean)
    .map((p) => p.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase())
    .join("_");
}

/** Every object schema with its path ("" for the root), depth first in document order. */
function objects(schema, path = "", out = []) {
  if (schema.type === "object" && schema.properties) {
    out.push([path, schema]);
    for (const [name, sub] of Object.entries(schema.properties)) objects(sub, path ? `${path}.${name}` : name, out);
  } else if (schema.type === "array" && schema.items) objects(schema.items, `${path}[]`, out);
  return out;
}

export function assemblyModule(schema = loadSchema()) {
  const lines = [
    "// Generated from config/schema.json by scripts/config-schema.mjs: do not edit (run `npm run build`).",
    "// The keys each configuration object allows, the bounds of each integer field and of bounded lists.",
    "",
  ];
  for (const [path, obj] of objects(schema)) {
    const name = path === "" ? "CONFIG_KEYS" : `${constName(path)}_KEYS`;
    lines.push(
      `export const ${name}: string[] = [${Object.keys(obj.properties)
        .map((k) => JSON.stringify(k))
        .join(", ")}];`,
    );
    for (const [key, sub] of Object.entries(obj.properties)) {
      const c = constName(path ? `${path}.${key}` : key);
      if (sub.type === "array" && sub.maxItems !== undefined) lines.push(`export const ${c}_MAX_ITEMS: i32 = ${sub.maxItems};`);
      if (sub.type === "array" && sub.items?.maxLength !== undefined)
        lines.push(`export const ${c}_ITEM_MAX_LENGTH: i32 = ${sub.items.maxLength};`);
      if (sub.type !== "integer") continue;
      lines.push(
        `export const ${c}_MIN: i32 = ${sub.minimum};`,
        `export const ${c}_MAX: i32 = ${sub.maximum};`,
        `export const ${c}_DEFAULT: i32 = ${sub.default};`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

function typeCell(s) {
  if (s["x-doc-type"]) return s["x-doc-type"];
  if (s.enum) return s.enum.map((v) => `\`${v}\``).join(" \\| ");
  if (s.type === "integer") return `${s.minimum} .. ${s.maximum}`;
  if (s.type === "boolean") return "bool";
  if (s.type === "array") return "list";
  return s.type ?? "";
}

function defaultCell(s) {
  if (s["x-doc-default"] !== undefined) return s["x-doc-default"];
  if (s.default === undefined) return "";
  return typeof s.default === "number" ? String(s.default) : `\`${s.default}\``;
}

/** Rows [field, type, default, meaning]: a row per field and per list of objects; objects are
 *  walked into; a list whose items are a choice (oneOf: a match) is one row. */
function rows(schema, prefix = "", out = []) {
  for (const [name, s] of Object.entries(schema.properties ?? {})) {
    const field = `${prefix}${name}`;
    if (s.type === "object") rows(s, `${field}.`, out);
    else if (s.type === "array" && s.items?.type === "object" && !s.items.oneOf) {
      out.push([`\`${field}[]\``, typeCell(s), defaultCell(s), s.description ?? ""]);
      rows(s.items, `${field}[].`, out);
    } else {
      if (s.not) continue; // a rejected key (regex): the parser names it, the table does not
      out.push([`\`${field}${s.type === "array" && s.items?.oneOf ? "[]" : ""}\``, typeCell(s), defaultCell(s), s.description ?? ""]);
    }
  }
  return out;
}

export function docTable(schema = loadSchema()) {
  const all = [["field", "type", "default", "meaning"], ...rows(schema)];
  const widths = all[0].map((_, i) => Math.max(3, ...all.map((r) => r[i].length)));
  const line = (r) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(all[0]), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...all.slice(1).map(line)].join("\n");
}

/** docs/configuration.md with its table replaced by the generated one. */
export function docWithTable(doc, schema = loadSchema()) {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${DOC_FILE}: config-table markers missing`);
  return `${doc.slice(0, a + BEGIN.length)}\n${docTable(schema)}\n${doc.slice(b)}`;
}

/** Writes what is stale; returns the files that were (or, with check, would be) rewritten. */
export function generate({ check = false } = {}) {
  const schema = loadSchema();
  const stale = [];
  for (const [file, want] of [
    [AS_FILE, assemblyModule(schema)],
    [DOC_FILE, docWithTable(readFileSync(DOC_FILE, "utf8"), schema)],
  ]) {
    let have = "";
    try {
      have = readFileSync(file, "utf8");
    } catch {}
    if (have === want) continue;
    stale.push(file);
    if (!check) writeFileSync(file, want);
  }
  return stale;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { check } = parseArgs({ options: { check: { type: "boolean", default: false } }, strict: true, allowPositionals: false }).values;
  const stale = generate({ check });
  for (const f of stale) console.error(`${check ? "stale" : "wrote"}: ${f}`);
  if (check && stale.length > 0) process.exitCode = 1;
}
