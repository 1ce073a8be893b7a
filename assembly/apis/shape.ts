// One API shape, as a descriptor: how a request is recognised (POST + path rules), where the
// model comes from (body or URL path), how streaming is signalled (body flag, path, header),
// which header carries the API key when the filter routes, whether OpenAI's include_usage
// applies, and which JSON paths of the request and response carry the model and the usage.
// Shapes are tables, not code: the scanner does the walking, filter.ts reads only these
// properties (never a shape's identity). registry.ts lists them.
//
// Streamed usage is a running total in every shape listed (OpenAI's single usage chunk, the
// Responses API's response.completed, Anthropic's message_delta output_tokens, DashScope's
// per-event usage, Gemini's per-chunk usageMetadata), so the last value seen wins; none sums
// deltas across events.
import { PathTrie } from "../json/paths";
import { MatchKind, StringMatch } from "../match";
import { Field } from "./fields";
import { Billing } from "./billing";
import { hexDigit } from "../json/chars";

export const enum ModelSource { Body = 0, Path = 1 }
export const enum StreamSignal { BodyFlag = 0, Header = 1, Path = 2 }
/** How the filter injects a provider's API key when it routes (config.ts providers[].apiKey). */
export const enum Auth { Bearer = 0, XApiKey = 1, GoogApiKey = 2, None = 3 }
/** Where an AWS event stream message's JSON is (eventstream-body.ts): the payload itself
 *  (ConverseStream), or base64 in the payload's `bytes` member (InvokeModelWithResponseStream). */
export const enum EventPayload { Json = 0, Base64Bytes = 1 }

/** A path rule: `match`, and `also` when set (DashScope apps: prefix and suffix both). */
export class PathRule {
  constructor(public match: StringMatch, public also: StringMatch | null = null) {}

  matches(path: string): bool {
    const also = this.also;
    return this.match.matches(path) && (also === null || also.matches(path));
  }
}

export class ApiShape {
  request: PathTrie = new PathTrie();
  response: PathTrie = new PathTrie();
  /** Default path rules (query string stripped before matching). */
  paths: PathRule[] = [];
  modelSource: ModelSource = ModelSource.Body;
  /** ModelSource.Path: the model is the path segment after this marker... */
  modelAfter: string = "";
  /** ...up to (not including) the first of these bytes, or the end. */
  modelStop: string = "/";
  streamSignal: StreamSignal = StreamSignal.BodyFlag;
  /** StreamSignal.Path: path markers that mean a streamed response. */
  streamPaths: string[] = [];
  auth: Auth = Auth.Bearer;
  /** Whether the filter may add stream_options.include_usage (OpenAI chat completions only). */
  includeUsage: bool = false;
  /** AWS event stream answers: where each event's JSON is. */
  eventPayload: EventPayload = EventPayload.Json;
  /** Whether the answer's token counts may come in response headers (Bedrock's
   *  x-amzn-bedrock-input-token-count / -output-token-count: token-headers.ts). */
  countsInHeaders: bool = false;
  /** Whether a multipart/form-data request (a file upload) is observed too; its body is never
   *  read, so its model is unknown unless the response names one. */
  formRequests: bool = false;
  /** Path suffixes whose answers are all prompt (embeddings): there a response that reports
   *  only a total (some OpenAI-compatible embedding servers) has that total as its prompt. */
  totalIsPromptAt: string[] = [];
  /** How the usage counts map to billed tokens (Billing flags; apis/billing.ts). */
  billing: u32 = Billing.Default;

  constructor(public name: string) {}

  requestField(path: string, field: Field): ApiShape {
    this.request.add(path, field);
    return this;
  }

  responseField(path: string, field: Field): ApiShape {
    this.response.add(path, field);
    return this;
  }

  /** Response fields whose values add up over the elements of an array on their path
   *  (DashScope apps' usage.models[]); a document gives their sum. */
  responseSum(path: string, field: Field): ApiShape {
    this.response.add(path, field);
    this.response.sumFields |= (<u32>1) << <u32>field;
    return this;
  }

  path(kind: MatchKind, value: string): ApiShape {
    this.paths.push(new PathRule(new StringMatch(kind, value)));
    return this;
  }

  pathBoth(a: StringMatch, b: StringMatch): ApiShape {
    this.paths.push(new PathRule(a, b));
    return this;
  }

  modelInPath(after: string, stop: string): ApiShape {
    this.modelSource = ModelSource.Path;
    this.modelAfter = after;
    this.modelStop = stop;
    return this;
  }

  streamsByPath(marker: string): ApiShape {
    this.streamSignal = StreamSignal.Path;
    this.streamPaths.push(marker);
    return this;
  }

  streamsByHeader(): ApiShape {
    this.streamSignal = StreamSignal.Header;
    return this;
  }

  authBy(auth: Auth): ApiShape {
    this.auth = auth;
    return this;
  }

  eventPayloadIn(where: EventPayload): ApiShape {
    this.eventPayload = where;
    return this;
  }

  withCountHeaders(): ApiShape {
    this.countsInHeaders = true;
    return this;
  }

  totalIsPrompt(suffix: string): ApiShape {
    this.totalIsPromptAt.push(suffix);
    return this;
  }

  /** Whether a response to this path reports its prompt as a total (totalIsPromptAt). */
  totalIsPromptFor(path: string): bool {
    for (let i = 0; i < this.totalIsPromptAt.length; i++) if (path.endsWith(this.totalIsPromptAt[i])) return true;
    return false;
  }

  acceptsForms(): ApiShape {
    this.formRequests = true;
    return this;
  }

  billedAs(flags: u32): ApiShape {
    this.billing = flags;
    return this;
  }

  withIncludeUsage(): ApiShape {
    this.includeUsage = true;
    return this;
  }

  /** Whether a request body carries anything this shape reads (model, stream flag). */
  get readsRequestBody(): bool {
    return this.request.size > 1;
  }

  /** The model named in a request path, percent-decoded bytes (as a body's model, not
   *  necessarily UTF-8), or null (ModelSource.Path only). */
  modelFromPath(path: string): Uint8Array | null {
    if (this.modelSource != ModelSource.Path) return null;
    const at = path.indexOf(this.modelAfter);
    if (at < 0) return null;
    const start = at + this.modelAfter.length;
    let end = start;
    while (end < path.length && !this.modelStop.includes(path.charAt(end)) && path.charCodeAt(end) != 0x3f) end++;
    if (end == start) return null;
    return percentDecode(path.substring(start, end));
  }

  /** Whether the path asks for a streamed response (StreamSignal.Path only). */
  streamsAt(path: string): bool {
    for (let i = 0; i < this.streamPaths.length; i++) if (path.includes(this.streamPaths[i])) return true;
    return false;
  }
}

/** RFC 3986 percent-decoding (Bedrock's `anthropic.claude-3-5-sonnet-20240620-v1%3A0`) into
 *  bytes; a malformed escape stays as it is. */
export function percentDecode(s: string): Uint8Array {
  const src = Uint8Array.wrap(String.UTF8.encode(s));
  const n = src.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (let i = 0; i < n; i++) {
    const c = src[i];
    if (c == 0x25 && i + 2 < n) {
      const h = hexDigit(src[i + 1]);
      const l = hexDigit(src[i + 2]);
      if (h >= 0 && l >= 0) {
        out[o++] = <u8>((h << 4) | l);
        i += 2;
        continue;
      }
    }
    out[o++] = c;
  }
  return out.slice(0, o);
}
