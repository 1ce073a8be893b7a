// Which URL paths are LLM calls, and in which API shape. The defaults cover OpenAI-compatible
// chat completions, completions and embeddings, DashScope native text and multimodal
// generation, and Anthropic messages; `apiPaths` in the plugin configuration replaces them.
import { ApiShape } from "./shape";
import { openai } from "./openai";
import { dashscope } from "./dashscope";
import { anthropic } from "./anthropic";
import { MatchKind, StringMatch } from "../match";

export const SHAPES: ApiShape[] = [openai, dashscope, anthropic];

export function shapeByName(name: string): ApiShape | null {
  for (let i = 0; i < SHAPES.length; i++) if (SHAPES[i].name == name) return SHAPES[i];
  return null;
}

export class ApiPath {
  constructor(public match: StringMatch, public shape: ApiShape) {}
}

export function defaultApiPaths(): ApiPath[] {
  return [
    new ApiPath(new StringMatch(MatchKind.Suffix, "/chat/completions"), openai),
    new ApiPath(new StringMatch(MatchKind.Suffix, "/completions"), openai),
    new ApiPath(new StringMatch(MatchKind.Suffix, "/embeddings"), openai),
    new ApiPath(new StringMatch(MatchKind.Suffix, "/api/v1/services/aigc/text-generation/generation"), dashscope),
    new ApiPath(new StringMatch(MatchKind.Suffix, "/api/v1/services/aigc/multimodal-generation/generation"), dashscope),
    new ApiPath(new StringMatch(MatchKind.Suffix, "/v1/messages"), anthropic),
  ];
}

/** The shape a request path (query string ignored) selects, or null. */
export function classifyPath(paths: ApiPath[], path: string): ApiShape | null {
  const q = path.indexOf("?");
  const bare = q >= 0 ? path.substring(0, q) : path;
  for (let i = 0; i < paths.length; i++) {
    if (paths[i].match.matches(bare)) return paths[i].shape;
  }
  return null;
}
