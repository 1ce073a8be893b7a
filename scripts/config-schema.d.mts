// Types for scripts/config-schema.mjs (tests import it).
export const SCHEMA_FILE: string;
export const AS_FILE: string;
export const DOC_FILE: string;
/** config/schema.json parsed (a JSON Schema document). */
export function loadSchema(): any;
export function assemblyModule(schema?: object): string;
export function docTable(schema?: object): string;
export function docWithTable(doc: string, schema?: object): string;
export function generate(options?: { check?: boolean }): string[];
