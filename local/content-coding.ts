// The mock LLM's answer to accept-encoding, as a provider's front end answers it: brotli or gzip
// by the client's preference (q-values; brotli first when both are equally welcome, as OpenAI's
// front end does), identity when neither is acceptable or no accept-encoding was sent.
import zlib from "node:zlib";

export type Coding = "br" | "gzip" | "identity";

/** The coding to answer with for this accept-encoding value (RFC 9110 section 12.5.3). */
export function chooseCoding(acceptEncoding: string | string[] | undefined): Coding {
  if (acceptEncoding === undefined) return "identity";
  const value = Array.isArray(acceptEncoding) ? acceptEncoding.join(",") : acceptEncoding;
  const q = new Map<string, number>();
  for (const entry of value.split(",")) {
    const [name, ...params] = entry.trim().toLowerCase().split(";");
    if (!name) continue;
    const qp = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const weight = qp === undefined ? 1 : Number(qp.slice(2));
    q.set(name.trim(), Number.isFinite(weight) ? weight : 0);
  }
  const weight = (c: string) => q.get(c) ?? q.get("*") ?? 0;
  const br = weight("br");
  const gzip = Math.max(weight("gzip"), q.get("x-gzip") ?? 0);
  if (br > 0 && br >= gzip) return "br";
  if (gzip > 0) return "gzip";
  return "identity";
}

/** A whole body in that coding. */
export function encodeBody(coding: Coding, body: string | Buffer): Buffer {
  const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
  if (coding === "br") return zlib.brotliCompressSync(bytes);
  if (coding === "gzip") return zlib.gzipSync(bytes);
  return bytes;
}

/** A streaming encoder (flushed after every event, so each reaches the client at once), or null. */
export function encodeStream(coding: Coding): zlib.Gzip | zlib.BrotliCompress | null {
  if (coding === "br") return zlib.createBrotliCompress();
  if (coding === "gzip") return zlib.createGzip();
  return null;
}
