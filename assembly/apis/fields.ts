// The field ids every API shape maps its JSON paths to. Parsers fill them; the Usage record
// and the rewrite read them. Adding a field is adding a line here and rows in the shapes.
export const F_MODEL: i32 = 0;
export const F_PROMPT_TOKENS: i32 = 1;
export const F_COMPLETION_TOKENS: i32 = 2;
export const F_TOTAL_TOKENS: i32 = 3;
export const F_CACHED_TOKENS: i32 = 4;
export const F_REASONING_TOKENS: i32 = 5;
// request-only fields
export const F_STREAM: i32 = 6;
export const F_STREAM_OPTIONS: i32 = 7;
export const F_INCLUDE_USAGE: i32 = 8;
// response-only: a provider error object ({"error": ...} or DashScope's top-level "code")
export const F_ERROR: i32 = 9;
