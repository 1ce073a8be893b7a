// A minimal OTLP/gRPC metrics receiver on loopback (no collector is installable here): an
// HTTP/2 server answering MetricsService/Export, and a protobuf reader for the few fields of
// opentelemetry/proto/metrics/v1/metrics.proto the tests look at (metric name, histogram data
// points with their attributes, count, sum and explicit bounds).
import { createServer, type Http2Server } from "node:http2";
import type { AddressInfo } from "node:net";

export const EXPORT_PATH = "/opentelemetry.proto.collector.metrics.v1.MetricsService/Export";

export interface OtlpHistogramPoint {
  attributes: Record<string, string>;
  count: bigint;
  sum: number;
  bounds: number[];
}
export interface OtlpMetric {
  name: string;
  histogram: OtlpHistogramPoint[];
}

type Field = { no: number; wire: number; bytes?: Buffer; varint?: bigint; fixed?: Buffer };

/** The fields of one protobuf message, in order. */
function fields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let v = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++];
      v |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return v;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, varint: varint() });
    else if (wire === 1) out.push({ no, wire, fixed: buf.subarray(i, (i += 8)) });
    else if (wire === 5) out.push({ no, wire, fixed: buf.subarray(i, (i += 4)) });
    else if (wire === 2) {
      const n = Number(varint());
      out.push({ no, wire, bytes: buf.subarray(i, (i += n)) });
    } else throw new Error(`protobuf wire type ${wire} not expected in OTLP metrics`);
  }
  return out;
}

const sub = (f: Field[], no: number) => f.filter((x) => x.no === no && x.bytes).map((x) => x.bytes!);

function attributes(kvs: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const kv of kvs) {
    const f = fields(kv);
    const key = sub(f, 1)[0]?.toString("utf8") ?? "";
    const any = sub(f, 2)[0];
    out[key] = any ? (sub(fields(any), 1)[0]?.toString("utf8") ?? "") : "";
  }
  return out;
}

/** ExportMetricsServiceRequest -> the metrics it carries. */
export function decodeExport(body: Buffer): OtlpMetric[] {
  const metrics: OtlpMetric[] = [];
  for (const rm of sub(fields(body), 1))
    for (const sm of sub(fields(rm), 2))
      for (const m of sub(fields(sm), 2)) {
        const f = fields(m);
        const name = sub(f, 1)[0]?.toString("utf8") ?? "";
        const histogram: OtlpHistogramPoint[] = [];
        for (const h of sub(f, 9))
          for (const dp of sub(fields(h), 1)) {
            const p = fields(dp);
            const fixed64 = p.find((x) => x.no === 4)?.fixed;
            const sum = p.find((x) => x.no === 5)?.fixed;
            // explicit_bounds: packed doubles (field 7), or one double per field when unpacked
            const bounds: number[] = [];
            for (const x of p.filter((y) => y.no === 7)) {
              if (x.bytes) for (let k = 0; k + 8 <= x.bytes.length; k += 8) bounds.push(x.bytes.readDoubleLE(k));
              else if (x.fixed) bounds.push(x.fixed.readDoubleLE(0));
            }
            histogram.push({
              attributes: attributes(sub(p, 9)),
              count: fixed64 ? fixed64.readBigUInt64LE(0) : 0n,
              sum: sum ? sum.readDoubleLE(0) : 0,
              bounds,
            });
          }
        metrics.push({ name, histogram });
      }
  return metrics;
}

export interface OtlpReceiver {
  port: number;
  /** Every Export request received so far, decoded. */
  exports: OtlpMetric[][];
  close(): Promise<void>;
}

/** Listens on 127.0.0.1 (h2c, as Envoy's gRPC client speaks to a plain cluster). */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const exports: OtlpMetric[][] = [];
  const server: Http2Server = createServer();
  server.on("stream", (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(c));
    stream.on("end", () => {
      const ok = headers[":path"] === EXPORT_PATH;
      const data = Buffer.concat(chunks);
      // gRPC framing: 1 byte compressed flag, 4 bytes big-endian length, the message.
      if (ok && data.length >= 5 && data[0] === 0) exports.push(decodeExport(data.subarray(5, 5 + data.readUInt32BE(1))));
      stream.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      stream.on("wantTrailers", () => stream.sendTrailers({ "grpc-status": ok ? "0" : "12" }));
      stream.end(Buffer.from([0, 0, 0, 0, 0])); // an empty ExportMetricsServiceResponse
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    exports,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
