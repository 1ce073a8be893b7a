// NDJSON framing (assembly/ndjson.ts, Ollama's native streams) through the host: line ends,
// blank lines, a last line with or without its LF, broken and cut-off lines, errors, and a line
// far larger than any chunk (nothing is buffered: the scanner reads it as it passes).
import { beforeAll, describe, expect, it } from "vitest";
import { sidecar, type Sidecar } from "./helpers/sidecar";
import { snap, STATE, cut } from "./helpers/harness";

const enc = new TextEncoder();
const part = (content: string) => JSON.stringify({ model: "llama3.2", message: { role: "assistant", content }, done: false });
const last = (p: number, c: number) =>
  JSON.stringify({ model: "llama3.2", message: { role: "assistant", content: "" }, done: true, prompt_eval_count: p, eval_count: c });

function run(s: Sidecar, body: Uint8Array[], contentType = "application/x-ndjson") {
  const r = snap(s, {
    request: {
      method: "POST",
      path: "/api/chat",
      authority: "ollama:11434",
      headers: [["content-type", "application/json"]],
      body: JSON.stringify({ model: "llama3.2", messages: [{ role: "user", content: "hi" }] }),
    },
    response: { status: 200, headers: [["content-type", contentType]], body },
  });
  expect(r.failed, r.trap).toBe(false);
  const fs = r.filterState;
  return {
    model: fs[STATE + "response_model"],
    prompt: fs[STATE + "request_prompt_tokens"],
    completion: fs[STATE + "request_completion_tokens"],
    skip: fs[STATE + "usage_skipped"],
    stream: fs[STATE + "request_stream"],
  };
}

describe("NDJSON streams (Ollama)", () => {
  let s: Sidecar;
  beforeAll(async () => {
    s = await sidecar();
  });

  const ok = { model: "llama3.2", prompt: "26", completion: "282", skip: undefined };

  it("one object per line; the done line's counts; split at every byte", () => {
    const body = enc.encode(`${part("The")}\n${part(" sky")}\n${last(26, 282)}\n`);
    expect(run(s, [body])).toMatchObject(ok);
    for (let at = 1; at < body.length; at++) expect([at, run(s, cut(body, [at]))]).toMatchObject([at, ok]);
  });

  it("CRLF line ends, blank lines and a last line without its LF", () => {
    expect(run(s, [enc.encode(`\r\n${part("The")}\r\n\r\n  \n${last(26, 282)}`)])).toMatchObject(ok);
  });

  it("a broken line in the middle loses only itself", () => {
    expect(run(s, [enc.encode(`${part("The")}\n{"model": "llama3.2", "mess\n${last(26, 282)}\n`)])).toMatchObject(ok);
  });

  it("a stream cut off inside the done line publishes no numbers (no_usage), not half a line's", () => {
    const full = `${part("The")}\n${last(26, 282)}`;
    const r = run(s, [enc.encode(full.slice(0, full.indexOf("eval_count") + 14))]);
    expect(r).toMatchObject({ prompt: undefined, completion: undefined, skip: "no_usage" });
  });

  it("an error line ends the stream: provider_error, no numbers", () => {
    const r = run(s, [enc.encode(`${part("The")}\n{"error":"an error was encountered while running the model"}\n`)]);
    expect(r).toMatchObject({ prompt: undefined, completion: undefined, skip: "provider_error" });
  });

  it("two documents on one line are no document (malformed line), the rest still reads", () => {
    expect(run(s, [enc.encode(`${part("a")}${part("b")}\n${last(26, 282)}\n`)])).toMatchObject(ok);
  });

  it("a 4 MiB line in 64 KiB chunks reads right (the framer keeps no line: the scanner reads it as it passes)", () => {
    const big = part("x".repeat(4 << 20));
    const body = enc.encode(`${big}\n${last(26, 282)}\n`);
    const cuts: number[] = [];
    for (let at = 65536; at < body.length; at += 65536) cuts.push(at);
    expect(run(s, cut(body, cuts))).toMatchObject(ok);
  });

  it("a `stream: false` answer (application/json) reads as one document", () => {
    expect(run(s, [enc.encode(last(26, 282))], "application/json; charset=utf-8")).toMatchObject(ok);
  });
});
