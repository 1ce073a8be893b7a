// A long fuzzing campaign against the release build. The generators of
// tests/fuzz.test.ts, run for as many cases as asked, on reused VMs:
//   npm run fuzz -- --cases 1000000 [--seed 42] [--workers 2] [--out fuzz-findings]
// Every case: no trap (the VM must not fail), no token number the reference model would not
// publish, bytes unchanged (observe-only); every 10th case also split at random points and
// compared with the unsplit run; every 1000th a random plugin configuration. A trap or a
// mismatch is written to --out as JSON (the case, base64 bodies) and the VM replaced. Prints
// cases/s, traps, mismatches, wasm memory and RSS; exits 1 if any trap or mismatch.
import { fork } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { runExchange } from "../host";
import type { Exchange } from "../host";
import { sidecar, configure, type Sidecar } from "../tests/helpers/sidecar";
import { anyCase, cuts, positions, type Case } from "../tests/helpers/gen";
import { mutatedCase, structuralCase, oddHeaders } from "../tests/helpers/mutate";
import { checkAgainstReference, cut, snap, PATHS, type Snapshot } from "../tests/helpers/harness";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const CASES = Number(opt("cases", "100000"));
const SEED = Number(opt("seed", String(Date.now() % 1e9)));
const WORKERS = Number(opt("workers", "1"));
const OUT = opt("out", "fuzz-findings");
const BATCH = 500;

interface Report {
  cases: number;
  traps: number;
  mismatches: number;
  splitMismatches: number;
  configs: number;
  wasmMemory: number;
  rssMb: number;
  ms: number;
}

const randomBytesCase: fc.Arbitrary<Case> = fc
  .tuple(fc.uint8Array({ maxLength: 200 }), fc.uint8Array({ maxLength: 400 }), fc.constantFrom(...Object.keys(PATHS)), oddHeaders)
  .map(([rq, rs, api, h]) => ({
    api: api as Case["api"],
    shape: PATHS[api].shape,
    path: PATHS[api].path,
    request: rq,
    requestHeaders: [["content-type", "application/json"]],
    status: h.status,
    responseHeaders: h.headers,
    response: rs,
  }));
const oddCase = fc
  .tuple(fc.oneof(anyCase, mutatedCase), oddHeaders)
  .map(([c, h]) => ({ ...c, status: h.status, responseHeaders: h.headers }));
const mix: fc.Arbitrary<Case> = fc.oneof(
  { arbitrary: mutatedCase, weight: 45 },
  { arbitrary: structuralCase, weight: 20 },
  { arbitrary: oddCase, weight: 15 },
  { arbitrary: randomBytesCase, weight: 10 },
  { arbitrary: anyCase, weight: 10 },
);
const configText = fc.oneof(
  fc.json({ depthSize: "small" }),
  fc.string({ maxLength: 120 }),
  fc
    .record({
      maxModels: fc.integer({ min: -5, max: 20000 }),
      providers: fc.array(fc.record({ name: fc.string(), hosts: fc.array(fc.string(), { maxLength: 3 }), model: fc.string() }), {
        maxLength: 2,
      }),
    })
    .map((o) => JSON.stringify(o)),
);

function exchange(c: Case, req: Uint8Array[], resp: Uint8Array[]): Exchange {
  return {
    request: { method: "POST", path: c.path, authority: "api.example.com", headers: c.requestHeaders, body: req },
    response: { status: c.status, headers: c.responseHeaders, body: resp },
  };
}

function fast(s: Sidecar, ex: Exchange): Snapshot {
  const r = runExchange(s.vm, ex);
  return {
    failed: s.vm.failed,
    trap: s.vm.lastTrap?.message,
    filterState: r.filterState,
    counters: {},
    upstreamBody: Buffer.from(r.upstreamRequest?.body ?? new Uint8Array(0)).toString("latin1"),
    downstreamBody: Buffer.from(r.downstreamResponse.body).toString("latin1"),
  };
}

async function worker(cases: number, seed: number): Promise<Report> {
  mkdirSync(OUT, { recursive: true });
  const t0 = Date.now();
  let s = await sidecar();
  const rep: Report = { cases: 0, traps: 0, mismatches: 0, splitMismatches: 0, configs: 0, wasmMemory: 0, rssMb: 0, ms: 0 };
  const save = (kind: string, c: Case, detail: unknown) => {
    const file = join(OUT, `${kind}-${seed}-${rep.cases}.json`);
    writeFileSync(
      file,
      JSON.stringify(
        {
          kind,
          detail,
          case: { ...c, request: Buffer.from(c.request).toString("base64"), response: Buffer.from(c.response).toString("base64") },
        },
        null,
        1,
      ),
    );
  };
  let batchNo = 0;
  while (rep.cases < cases) {
    const n = Math.min(BATCH, cases - rep.cases);
    const batch = fc.sample(fc.tuple(mix, cuts), { numRuns: n, seed: seed + batchNo++ });
    for (const [c, fr] of batch) {
      rep.cases++;
      // Every 100th case also checks counter deltas, on a fresh VM: the host keeps counters as JS
      // numbers, and after a million cases with 15-digit token counts the sums pass 2^53.
      const withCounters = rep.cases % 100 === 0;
      const whole = withCounters
        ? snap(await sidecar(), exchange(c, [c.request], [c.response]))
        : fast(s, exchange(c, [c.request], [c.response]));
      if (whole.failed || s.vm.failed) {
        rep.traps++;
        save("trap", c, whole.trap ?? s.vm.lastTrap?.message);
        s = await sidecar();
        continue;
      }
      const problems = checkAgainstReference(
        whole,
        c.shape,
        c.request,
        { status: c.status, headers: c.responseHeaders, body: c.response },
        c.path,
      );
      if (whole.upstreamBody !== Buffer.from(c.request).toString("latin1")) problems.push("request bytes changed");
      if (whole.downstreamBody !== Buffer.from(c.response).toString("latin1")) problems.push("response bytes changed");
      if (problems.length) {
        rep.mismatches++;
        if (rep.mismatches <= 50) save("mismatch", c, problems);
      }
      if (rep.cases % 10 === 0) {
        const split = fast(
          s,
          exchange(c, cut(c.request, positions(fr, c.request.length)), cut(c.response, positions(fr.slice().reverse(), c.response.length))),
        );
        if (split.failed) {
          rep.traps++;
          save("trap", c, split.trap);
          s = await sidecar();
          continue;
        }
        if (JSON.stringify(split.filterState) !== JSON.stringify(whole.filterState)) {
          rep.splitMismatches++;
          if (rep.splitMismatches <= 50) save("split", c, { whole: whole.filterState, split: split.filterState, cuts: fr });
        }
      }
      if (rep.cases % 1000 === 0) {
        rep.configs++;
        const text = fc.sample(configText, { numRuns: 1, seed: seed + rep.cases })[0];
        const r = await configure(text);
        if (r.logs.some((l) => l.includes("Function failed"))) {
          rep.traps++;
          writeFileSync(join(OUT, `config-trap-${seed}-${rep.cases}.txt`), text);
        }
      }
    }
    if (process.send) process.send({ progress: rep.cases });
    else if (rep.cases % 20000 < BATCH)
      console.error(
        `${rep.cases} cases, ${rep.traps} traps, ${rep.mismatches} mismatches, ${Math.round(rep.cases / ((Date.now() - t0) / 1000))}/s, wasm ${s.vm.memoryBytes()} B`,
      );
  }
  rep.wasmMemory = s.vm.memoryBytes();
  rep.rssMb = Math.round(process.memoryUsage().rss / 1e6);
  rep.ms = Date.now() - t0;
  return rep;
}

async function main() {
  if (process.env.FUZZ_WORKER) {
    const rep = await worker(Number(process.env.FUZZ_CASES), Number(process.env.FUZZ_SEED));
    process.send!({ done: rep });
    return;
  }
  const t0 = Date.now();
  console.error(`fuzz campaign: ${CASES} cases, seed ${SEED}, ${WORKERS} worker(s), findings in ${OUT}/`);
  let reports: Report[];
  if (WORKERS <= 1) {
    reports = [await worker(CASES, SEED)];
  } else {
    const self = fileURLToPath(import.meta.url);
    const per = Math.ceil(CASES / WORKERS);
    const progress = new Array(WORKERS).fill(0);
    let last = 0;
    reports = await Promise.all(
      Array.from(
        { length: WORKERS },
        (_, w) =>
          new Promise<Report>((resolve, reject) => {
            const child = fork(self, args, {
              env: {
                ...process.env,
                FUZZ_WORKER: "1",
                FUZZ_CASES: String(Math.min(per, CASES - w * per)),
                FUZZ_SEED: String(SEED + w * 1_000_003),
              },
              execArgv: process.execArgv,
            });
            child.on("message", (m: { progress?: number; done?: Report }) => {
              if (m.done) resolve(m.done);
              if (m.progress !== undefined) {
                progress[w] = m.progress;
                const total = progress.reduce((a, b) => a + b, 0);
                if (total - last >= 50000) {
                  last = total;
                  console.error(`${total} cases, ${Math.round(total / ((Date.now() - t0) / 1000))}/s`);
                }
              }
            });
            child.on("exit", (code) => {
              if (code) reject(new Error(`worker ${w} exited ${code}`));
            });
          }),
      ),
    );
  }
  const sum = (k: keyof Report) => reports.reduce((a, r) => a + r[k], 0);
  const ms = Date.now() - t0;
  const result = {
    cases: sum("cases"),
    traps: sum("traps"),
    mismatches: sum("mismatches"),
    splitMismatches: sum("splitMismatches"),
    configs: sum("configs"),
    seconds: Math.round(ms / 1000),
    casesPerSecond: Math.round(sum("cases") / (ms / 1000)),
    wasmMemoryBytes: Math.max(...reports.map((r) => r.wasmMemory)),
    workerRssMb: Math.max(...reports.map((r) => r.rssMb)),
    seed: SEED,
    workers: WORKERS,
  };
  console.log(JSON.stringify(result, null, 2));
  process.exit(result.traps || result.mismatches || result.splitMismatches ? 1 : 0);
}

main().catch((e) => {
  console.error(e);
  process.exit(2);
});
