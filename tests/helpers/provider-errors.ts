// Provider error answers and finish reasons of every API shape, each with the class the filter
// must give it (assembly/classify.ts; the table in docs/metrics.md). The error bodies are the
// providers' documented error formats; where a recorded body was found it is quoted with its
// source (issue threads that paste what the provider's SDK received).
import {
  anthropicJson,
  anthropicSse,
  bedrockConverseJson,
  dashscopeAppJson,
  dashscopeJson,
  geminiJson,
  geminiSse,
  JSON_HEADERS,
  openaiJson,
  openaiSse,
  responsesJson,
  responsesSse,
  SSE_HEADERS,
} from "./bodies";

export interface ClassifiedCase {
  name: string;
  authority: string;
  path: string;
  request: string;
  status: number;
  responseHeaders: [string, string][];
  response: string;
  /** The llmproxy_error_type the request must add one to, if any. */
  error?: string;
  /** The llmproxy_finish_reason it must add one to, if any. */
  finish?: string;
}

const OPENAI = { authority: "api.openai.com", path: "/v1/chat/completions", request: JSON.stringify({ model: "gpt-4o", messages: [] }) };
const AZURE = {
  authority: "myres.openai.azure.com",
  path: "/openai/deployments/gpt-4o/chat/completions?api-version=2024-10-21",
  request: JSON.stringify({ messages: [] }),
};
const RESPONSES = { authority: "api.openai.com", path: "/v1/responses", request: JSON.stringify({ model: "gpt-5-mini", input: "Hi" }) };
const ANTHROPIC = {
  authority: "api.anthropic.com",
  path: "/v1/messages",
  request: JSON.stringify({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [] }),
};
const GEMINI = {
  authority: "generativelanguage.googleapis.com",
  path: "/v1beta/models/gemini-2.5-pro:generateContent",
  request: JSON.stringify({ contents: [] }),
};
const GEMINI_STREAM = { ...GEMINI, path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent" };
const CONVERSE = {
  authority: "bedrock-runtime.us-east-1.amazonaws.com",
  path: "/model/anthropic.claude-3-5-sonnet-20240620-v1%3A0/converse",
  request: JSON.stringify({ messages: [] }),
};
const INVOKE = { ...CONVERSE, path: "/model/us.anthropic.claude-sonnet-4-20250514-v1%3A0/invoke" };
const DASHSCOPE = {
  authority: "dashscope.aliyuncs.com",
  path: "/api/v1/services/aigc/text-generation/generation",
  request: JSON.stringify({ model: "qwen-plus", input: { messages: [] } }),
};
const APPS = { authority: "dashscope.aliyuncs.com", path: "/api/v1/apps/1f2e3d4c5b6a/completion", request: JSON.stringify({ input: {} }) };
const DASHSCOPE_COMPATIBLE = { ...OPENAI, authority: "dashscope.aliyuncs.com", path: "/compatible-mode/v1/chat/completions" };

const json = JSON_HEADERS;
const amzn = (type: string): [string, string][] => [
  ["content-type", "application/json"],
  ["x-amzn-errortype", `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`],
];
const dashscopeError = (code: string, message: string) =>
  JSON.stringify({ request_id: "a1b2c3d4-e5f6-7890-abcd-ef0123456789", code, message });

export const ERROR_CASES: ClassifiedCase[] = [
  // ---- OpenAI chat completions
  {
    name: "OpenAI 400 context_length_exceeded",
    ...OPENAI,
    status: 400,
    responseHeaders: json,
    response: JSON.stringify({
      error: {
        message:
          "This model's maximum context length is 128000 tokens. However, your messages resulted in 130310 tokens. Please reduce the length of the messages.",
        type: "invalid_request_error",
        param: "messages",
        code: "context_length_exceeded",
      },
    }),
    error: "context_length",
  },
  {
    name: "OpenAI 429 rate_limit_exceeded",
    ...OPENAI,
    status: 429,
    responseHeaders: json,
    response: JSON.stringify({
      error: {
        message:
          "Rate limit reached for gpt-4o in organization org-abc on tokens per min (TPM): Limit 30000, Used 29844, Requested 1126. Please try again in 1.94s.",
        type: "tokens",
        param: null,
        code: "rate_limit_exceeded",
      },
    }),
    error: "rate_limited",
  },
  {
    name: "OpenAI 401 invalid_api_key",
    ...OPENAI,
    status: 401,
    responseHeaders: json,
    response: JSON.stringify({
      error: {
        message: "Incorrect API key provided: sk-abc. You can find your API key at https://platform.openai.com/account/api-keys.",
        type: "invalid_request_error",
        param: null,
        code: "invalid_api_key",
      },
    }),
    error: "auth",
  },
  {
    name: "OpenAI 500 server_error (code null: the status decides)",
    ...OPENAI,
    status: 500,
    responseHeaders: json,
    response: JSON.stringify({
      error: {
        message: "The server had an error while processing your request. Sorry about that!",
        type: "server_error",
        param: null,
        code: null,
      },
    }),
    error: "server_error",
  },
  {
    name: "OpenAI 400 a plain invalid request",
    ...OPENAI,
    status: 400,
    responseHeaders: json,
    response: JSON.stringify({
      error: { message: "Invalid value for 'temperature': must be <= 2.", type: "invalid_request_error", param: "temperature", code: null },
    }),
    error: "invalid_request",
  },
  {
    name: "Azure OpenAI 400 content_filter (prompt)",
    ...AZURE,
    status: 400,
    responseHeaders: json,
    response: JSON.stringify({
      error: {
        message:
          "The response was filtered due to the prompt triggering Azure OpenAI's content management policy. Please modify your prompt and retry.",
        type: null,
        param: "prompt",
        code: "content_filter",
        status: 400,
        innererror: { code: "ResponsibleAIPolicyViolation", content_filter_result: { hate: { filtered: true, severity: "high" } } },
      },
    }),
    error: "content_filter",
  },
  {
    // Recorded: camel-ai/owl#432 (DashScope's OpenAI-compatible mode, as the openai SDK received it)
    name: "DashScope compatible-mode 400 data_inspection_failed",
    ...DASHSCOPE_COMPATIBLE,
    status: 400,
    responseHeaders: json,
    response: JSON.stringify({
      error: {
        code: "data_inspection_failed",
        param: null,
        message: "Input data may contain inappropriate content.",
        type: "data_inspection_failed",
      },
      id: "chatcmpl-deab386b-2562-9a7b-b8fa-0ba9385a5c28",
      request_id: "deab386b-2562-9a7b-b8fa-0ba9385a5c28",
    }),
    error: "content_filter",
  },
  // ---- Responses API
  {
    name: "Responses 400 context_length_exceeded",
    ...RESPONSES,
    status: 400,
    responseHeaders: json,
    response: JSON.stringify({
      error: {
        message: "Your input exceeds the context window of this model. Please adjust your input and try again.",
        type: "invalid_request_error",
        param: "input",
        code: "context_length_exceeded",
      },
    }),
    error: "context_length",
  },
  {
    name: "Responses 200 stream failing mid-way (event: error, server_error)",
    ...RESPONSES,
    status: 200,
    responseHeaders: SSE_HEADERS,
    response: responsesSse("gpt-5-mini", { prompt: 10, completion: 5 }, { words: 1, error: true }),
    error: "server_error",
  },
  // ---- Anthropic
  {
    // Recorded: anthropics/claude-code#12186 (the SDK's 400 body)
    name: "Anthropic 400 prompt is too long",
    ...ANTHROPIC,
    status: 400,
    responseHeaders: json,
    response:
      '{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 208310 tokens > 200000 maximum"},"request_id":"req_011CVQe1dLrGNMJyE1ghG1av"}',
    error: "context_length",
  },
  {
    name: "Anthropic 429 rate_limit_error",
    ...ANTHROPIC,
    status: 429,
    responseHeaders: json,
    response: JSON.stringify({
      type: "error",
      error: {
        type: "rate_limit_error",
        message: "This request would exceed the rate limit for your organization of 40,000 input tokens per minute.",
      },
    }),
    error: "rate_limited",
  },
  {
    name: "Anthropic 529 overloaded_error",
    ...ANTHROPIC,
    status: 529,
    responseHeaders: json,
    response: JSON.stringify({ type: "error", error: { type: "overloaded_error", message: "Overloaded" } }),
    error: "server_error",
  },
  {
    name: "Anthropic 401 authentication_error",
    ...ANTHROPIC,
    status: 401,
    responseHeaders: json,
    response: JSON.stringify({ type: "error", error: { type: "authentication_error", message: "invalid x-api-key" } }),
    error: "auth",
  },
  {
    name: "Anthropic 200 stream failing mid-way (event: error, overloaded_error)",
    ...ANTHROPIC,
    status: 200,
    responseHeaders: SSE_HEADERS,
    response:
      anthropicSse("claude-sonnet-4-5-20250929", { prompt: 21, completion: 3 }).split("event: message_delta")[0] +
      'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n',
    error: "server_error",
  },
  // ---- Gemini
  {
    // Recorded: google-gemini/gemini-cli#6678
    name: "Gemini 400 input token count exceeds the maximum (streamGenerateContent, a JSON array)",
    ...GEMINI_STREAM,
    status: 400,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: JSON.stringify([
      {
        error: {
          code: 400,
          message: "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
          errors: [
            {
              message: "The input token count (1200293) exceeds the maximum number of tokens allowed (1048576).",
              domain: "global",
              reason: "badRequest",
            },
          ],
          status: "INVALID_ARGUMENT",
        },
      },
    ]),
    error: "context_length",
  },
  {
    name: "Gemini 429 RESOURCE_EXHAUSTED",
    ...GEMINI,
    status: 429,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: JSON.stringify({
      error: { code: 429, message: "Resource has been exhausted (e.g. check quota).", status: "RESOURCE_EXHAUSTED" },
    }),
    error: "rate_limited",
  },
  {
    name: "Gemini 403 PERMISSION_DENIED",
    ...GEMINI,
    status: 403,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: JSON.stringify({
      error: {
        code: 403,
        message: "Method doesn't allow unregistered callers (callers without established identity).",
        status: "PERMISSION_DENIED",
      },
    }),
    error: "auth",
  },
  {
    name: "Gemini 400 INVALID_ARGUMENT (not a length)",
    ...GEMINI,
    status: 400,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: JSON.stringify({
      error: { code: 400, message: "* GenerateContentRequest.contents: contents is not specified\n", status: "INVALID_ARGUMENT" },
    }),
    error: "invalid_request",
  },
  // ---- Bedrock: {"message"} bodies, the class in x-amzn-errortype
  {
    name: "Bedrock Converse 400 ValidationException: input is too long",
    ...CONVERSE,
    status: 400,
    responseHeaders: amzn("ValidationException"),
    response: JSON.stringify({ message: "Input is too long for requested model." }),
    error: "context_length",
  },
  {
    name: "Bedrock Converse 429 ThrottlingException",
    ...CONVERSE,
    status: 429,
    responseHeaders: amzn("ThrottlingException"),
    response: JSON.stringify({ message: "Too many requests, please wait before trying again." }),
    error: "rate_limited",
  },
  {
    name: "Bedrock InvokeModel 403 AccessDeniedException",
    ...INVOKE,
    status: 403,
    responseHeaders: amzn("AccessDeniedException"),
    response: JSON.stringify({ message: "You don't have access to the model with the specified model ID." }),
    error: "auth",
  },
  {
    name: "Bedrock InvokeModel 408 ModelTimeoutException",
    ...INVOKE,
    status: 408,
    responseHeaders: amzn("ModelTimeoutException"),
    response: JSON.stringify({ message: "Model has timed out in processing the request." }),
    error: "timeout",
  },
  // ---- DashScope native and applications: top-level code and message
  {
    name: "DashScope 400 DataInspectionFailed",
    ...DASHSCOPE,
    status: 400,
    responseHeaders: json,
    response: dashscopeError("DataInspectionFailed", "Input data may contain inappropriate content."),
    error: "content_filter",
  },
  {
    name: "DashScope 400 InvalidParameter: range of input length",
    ...DASHSCOPE,
    status: 400,
    responseHeaders: json,
    response: dashscopeError("InvalidParameter", "Range of input length should be [1, 30720]"),
    error: "context_length",
  },
  {
    name: "DashScope 429 Throttling.RateQuota",
    ...DASHSCOPE,
    status: 429,
    responseHeaders: json,
    response: dashscopeError("Throttling.RateQuota", "Requests rate limit exceeded, please try again later."),
    error: "rate_limited",
  },
  {
    name: "DashScope 401 InvalidApiKey",
    ...DASHSCOPE,
    status: 401,
    responseHeaders: json,
    response: dashscopeError("InvalidApiKey", "Invalid API-key provided."),
    error: "auth",
  },
  {
    name: "DashScope application 500 InternalError",
    ...APPS,
    status: 500,
    responseHeaders: json,
    response: dashscopeError("InternalError", "An internal error has occured, please try again later or contact service support."),
    error: "server_error",
  },
  // ---- no body to read: the status alone
  {
    name: "504 from a gateway, text/plain",
    ...OPENAI,
    status: 504,
    responseHeaders: [["content-type", "text/plain"]],
    response: "upstream request timeout",
    error: "timeout",
  },
  {
    name: "503 gzip-compressed body (not read)",
    ...OPENAI,
    status: 503,
    responseHeaders: [
      ["content-type", "application/json"],
      ["content-encoding", "gzip"],
    ],
    response: "\x1f\x8b\x08\x00\x00\x00\x00\x00",
    error: "server_error",
  },
];

const replace = (body: string, from: string, to: string) => {
  if (!body.includes(from)) throw new Error(`fixture: ${from} not in body`);
  return body.split(from).join(to);
};

export const FINISH_CASES: ClassifiedCase[] = [
  {
    name: "OpenAI JSON stop",
    ...OPENAI,
    status: 200,
    responseHeaders: json,
    response: openaiJson("gpt-4o", { prompt: 3, completion: 4 }),
    finish: "stop",
  },
  {
    name: "OpenAI JSON length",
    ...OPENAI,
    status: 200,
    responseHeaders: json,
    response: replace(openaiJson("gpt-4o", { prompt: 3, completion: 4 }), '"finish_reason":"stop"', '"finish_reason":"length"'),
    finish: "length",
  },
  {
    name: "OpenAI SSE tool_calls (finish_reason null until the last chunk)",
    ...OPENAI,
    status: 200,
    responseHeaders: SSE_HEADERS,
    response: replace(
      openaiSse("gpt-4o", { prompt: 3, completion: 4 }, { words: 2 }),
      '"finish_reason":"stop"',
      '"finish_reason":"tool_calls"',
    ),
    finish: "tool_calls",
  },
  {
    name: "Azure SSE content_filter",
    ...AZURE,
    status: 200,
    responseHeaders: SSE_HEADERS,
    response: replace(
      openaiSse("gpt-4o", { prompt: 3, completion: 4 }, { words: 2 }),
      '"finish_reason":"stop"',
      '"finish_reason":"content_filter"',
    ),
    finish: "content_filter",
  },
  {
    name: "Responses JSON completed",
    ...RESPONSES,
    status: 200,
    responseHeaders: json,
    response: responsesJson("gpt-5-mini", { prompt: 3, completion: 4 }),
    finish: "stop",
  },
  {
    name: "Responses JSON incomplete: max_output_tokens",
    ...RESPONSES,
    status: 200,
    responseHeaders: json,
    response: JSON.stringify({
      ...JSON.parse(responsesJson("gpt-5-mini", { prompt: 3, completion: 4 })),
      status: "incomplete",
      incomplete_details: { reason: "max_output_tokens" },
    }),
    finish: "length",
  },
  {
    name: "Responses SSE completed (in_progress before)",
    ...RESPONSES,
    status: 200,
    responseHeaders: SSE_HEADERS,
    response: responsesSse("gpt-5-mini", { prompt: 3, completion: 4 }, { words: 2 }),
    finish: "stop",
  },
  {
    name: "Anthropic JSON end_turn",
    ...ANTHROPIC,
    status: 200,
    responseHeaders: json,
    response: anthropicJson("claude-sonnet-4-5", { prompt: 3, completion: 4 }),
    finish: "stop",
  },
  {
    name: "Anthropic SSE tool_use (message_delta)",
    ...ANTHROPIC,
    status: 200,
    responseHeaders: SSE_HEADERS,
    response: replace(
      anthropicSse("claude-sonnet-4-5", { prompt: 3, completion: 4 }),
      '"stop_reason":"end_turn"',
      '"stop_reason":"tool_use"',
    ),
    finish: "tool_calls",
  },
  {
    name: "Anthropic JSON refusal",
    ...ANTHROPIC,
    status: 200,
    responseHeaders: json,
    response: replace(
      anthropicJson("claude-sonnet-4-5", { prompt: 3, completion: 4 }),
      '"stop_reason":"end_turn"',
      '"stop_reason":"refusal"',
    ),
    finish: "content_filter",
  },
  {
    name: "Gemini JSON STOP",
    ...GEMINI,
    status: 200,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: geminiJson("gemini-2.5-pro", { prompt: 3, completion: 4 }),
    finish: "stop",
  },
  {
    name: "Gemini SSE SAFETY",
    ...GEMINI,
    path: "/v1beta/models/gemini-2.5-pro:streamGenerateContent?alt=sse",
    status: 200,
    responseHeaders: SSE_HEADERS,
    response: replace(geminiSse("gemini-2.5-pro", { prompt: 3, completion: 4 }), '"finishReason":"STOP"', '"finishReason":"SAFETY"'),
    finish: "content_filter",
  },
  {
    name: "Gemini JSON MAX_TOKENS",
    ...GEMINI,
    status: 200,
    responseHeaders: [["content-type", "application/json; charset=UTF-8"]],
    response: replace(geminiJson("gemini-2.5-pro", { prompt: 3, completion: 4 }), '"finishReason":"STOP"', '"finishReason":"MAX_TOKENS"'),
    finish: "length",
  },
  {
    name: "Bedrock Converse end_turn",
    ...CONVERSE,
    status: 200,
    responseHeaders: json,
    response: bedrockConverseJson({ prompt: 3, completion: 4 }),
    finish: "stop",
  },
  {
    name: "Bedrock Converse guardrail_intervened",
    ...CONVERSE,
    status: 200,
    responseHeaders: json,
    response: replace(bedrockConverseJson({ prompt: 3, completion: 4 }), '"stopReason":"end_turn"', '"stopReason":"guardrail_intervened"'),
    finish: "content_filter",
  },
  {
    name: "Bedrock InvokeModel max_tokens",
    ...INVOKE,
    status: 200,
    responseHeaders: json,
    response: replace(
      anthropicJson("claude-sonnet-4", { prompt: 3, completion: 4 }),
      '"stop_reason":"end_turn"',
      '"stop_reason":"max_tokens"',
    ),
    finish: "length",
  },
  {
    name: "DashScope JSON stop",
    ...DASHSCOPE,
    status: 200,
    responseHeaders: json,
    response: dashscopeJson({ prompt: 3, completion: 4 }),
    finish: "stop",
  },
  {
    name: "DashScope JSON tool_calls",
    ...DASHSCOPE,
    status: 200,
    responseHeaders: json,
    response: replace(dashscopeJson({ prompt: 3, completion: 4 }), '"finish_reason":"stop"', '"finish_reason":"tool_calls"'),
    finish: "tool_calls",
  },
  {
    name: "DashScope application stop",
    ...APPS,
    status: 200,
    responseHeaders: json,
    response: dashscopeAppJson([{ model_id: "qwen-plus", input_tokens: 3, output_tokens: 4 }]),
    finish: "stop",
  },
  {
    name: "OpenAI-compatible unknown reason (eos)",
    ...OPENAI,
    status: 200,
    responseHeaders: json,
    response: replace(openaiJson("llama-3", { prompt: 3, completion: 4 }), '"finish_reason":"stop"', '"finish_reason":"eos"'),
    finish: "other",
  },
];
