// The one list of API shapes. Default path rules, the configuration's `api` names, the docs
// and the tests all come from here; adding a shape is adding its file and a row below.
// Order matters where rules overlap: the first shape whose rule matches a path wins.
import { ApiShape, PathRule } from "./shape";
import { openai } from "./openai";
import { responses } from "./responses";
import { anthropic } from "./anthropic";
import { dashscope } from "./dashscope";
import { dashscopeApps } from "./dashscope-apps";
import { gemini } from "./gemini";
import { bedrockConverse, bedrockInvoke } from "./bedrock";
import { cohere } from "./cohere";
import { ollama } from "./ollama";
import { tgi } from "./tgi";
import { vertexAnthropic } from "./vertex-anthropic";
import { geminiEmbed } from "./gemini-embed";
import { openaiImages, openaiAudio } from "./openai-media";
import { StringMatch } from "../match";

// ollama's `/api/generate` before tgi's `/generate`.
export const SHAPES: ApiShape[] = [
  openai, responses, dashscope, dashscopeApps, anthropic, gemini, bedrockConverse, bedrockInvoke,
  cohere, ollama, tgi, vertexAnthropic, geminiEmbed, openaiImages, openaiAudio,
];

/** A provider's shape when its `api` is not set. */
export const DEFAULT_SHAPE: ApiShape = openai;

export function shapeByName(name: string): ApiShape | null {
  for (let i = 0; i < SHAPES.length; i++) if (SHAPES[i].name == name) return SHAPES[i];
  return null;
}

/** The first path a shape's tries refused (json/paths.ts PathTrie.add), naming the shape, or
 *  null: on_configure rejects the plugin rather than run with a shape missing a path. */
export function shapesError(): string | null {
  for (let i = 0; i < SHAPES.length; i++) {
    const shape = SHAPES[i];
    const error = shape.request.error !== null ? shape.request.error : shape.response.error;
    if (error !== null) return "API shape '" + shape.name + "': " + error;
  }
  return null;
}

/** "openai, responses, ...": for configuration errors. */
export function shapeNames(): string {
  const names: string[] = [];
  for (let i = 0; i < SHAPES.length; i++) names.push(SHAPES[i].name);
  return names.join(", ");
}

export class ApiPath {
  constructor(public rule: PathRule, public shape: ApiShape) {}
}

/** Every shape's own path rules, in registry order (what `apiPaths` replaces). */
export function defaultApiPaths(): ApiPath[] {
  const out: ApiPath[] = [];
  for (let i = 0; i < SHAPES.length; i++) {
    const shape = SHAPES[i];
    for (let j = 0; j < shape.paths.length; j++) out.push(new ApiPath(shape.paths[j], shape));
  }
  return out;
}

export function configuredApiPath(match: StringMatch, shape: ApiShape): ApiPath {
  return new ApiPath(new PathRule(match), shape);
}

/** The request path without its query string. */
export function barePath(path: string): string {
  const q = path.indexOf("?");
  return q >= 0 ? path.substring(0, q) : path;
}

/** The shape a request path (query string already removed) selects, or null. */
export function classifyPath(paths: ApiPath[], bare: string): ApiShape | null {
  for (let i = 0; i < paths.length; i++) {
    if (paths[i].rule.matches(bare)) return paths[i].shape;
  }
  return null;
}
