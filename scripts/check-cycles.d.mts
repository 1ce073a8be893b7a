// Types of scripts/check-cycles.mjs's exports (used by tests/structure.test.ts).
/** Every .ts/.mts source file under `dir` (recursively, node_modules and .d.ts left out). */
export function sourceFiles(dir: string, out?: string[]): string[];
/** file → the project files it imports (relative specifiers only). */
export function importGraph(files: string[]): Map<string, Set<string>>;
/** The import cycles: strongly connected components of more than one module, or a self-import. */
export function cycles(graph: Map<string, Set<string>>): string[][];
