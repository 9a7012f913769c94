/**
 * Bench section: OpenTelemetry tracing (issue 17). Three PredictService replicas in their own
 * processes serve the same bundled model: tracing off, tracing on with the sampler at 1 %
 * (parentbased_traceidratio 0.01, as the manifests ship it), and tracing on at 100 %. Spans
 * are exported over OTLP/HTTP (protobuf, the default) to a sink in this process that accepts
 * and drops them. Predict at 64 calls in flight; runs alternate between the replicas, so the
 * machine's other load hits all of them.
 */
import { createServer } from "node:http";
import { rm } from "node:fs/promises";
import { type BenchContext, type BenchSection, type FigureSummary, median } from "./bench-harness.js";
import {
  CONCURRENCY,
  type LoadRun,
  bundledReplica,
  loadOf,
  predictClient,
  prepare,
  processCpuSeconds,
  waitForVersion,
} from "./predict-bench.js";

export const order = 33;

export const section: BenchSection = {
  title: "Tracing: Predict with OpenTelemetry on against off (issue 17)",
  async run(context: BenchContext): Promise<void> {
    let exportedBytes = 0;
    let exports = 0;
    const sink = createServer((req, res) => {
      req.on("data", (chunk: Buffer) => (exportedBytes += chunk.length));
      req.on("end", () => {
        exports++;
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((resolve) => sink.listen(0, "127.0.0.1", resolve));
    const address = sink.address();
    const sinkPort = typeof address === "object" && address !== null ? address.port : 0;
    const setup = await prepare(context);
    try {
      const otel = (ratio: string): Record<string, string> => ({
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${sinkPort}`,
        OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
        OTEL_TRACES_SAMPLER_ARG: ratio,
      });
      const modes = [
        { label: "tracing off", env: {} },
        { label: "tracing on, sampler ratio 0.01", env: otel("0.01") },
        { label: "tracing on, sampler ratio 1 (every call)", env: otel("1") },
      ];
      const replicas = await Promise.all(
        modes.map((mode, i) => bundledReplica(setup, `tracing-${String(i)}`, mode.env)),
      );
      const clients = replicas.map((r) => predictClient(r.port));
      try {
        const first = setup.patients[0];
        if (first === undefined) throw new Error("no patients");
        for (const client of clients) await waitForVersion(client, first, (v) => v === "v1");
        const load = loadOf(setup.patients);
        const durationMs = context.quick ? 1_500 : 3_000;
        for (const client of clients) await load(client, 1_000);
        const runs: LoadRun[][] = modes.map(() => []);
        // Server CPU per call moves far less with the machine's other load than calls/s.
        const cpuMicros: number[][] = modes.map(() => []);
        for (let run = 0; run < context.runs * 2; run++) {
          const order = run % 2 === 0 ? [0, 1, 2] : [2, 1, 0];
          for (const i of order) {
            const client = clients[i];
            if (client === undefined) continue;
            const pid = replicas[i]?.pid;
            const before = processCpuSeconds(pid);
            const result = await load(client, durationMs);
            const after = processCpuSeconds(pid);
            runs[i]?.push(result);
            if (before !== undefined && after !== undefined) {
              cpuMicros[i]?.push(((after - before) * 1e6) / (result.callsPerSecond * (durationMs / 1000)));
            }
          }
        }
        const figures: FigureSummary[] = modes.map((mode, i) =>
          context.record({
            name: `Predict calls/s, ${CONCURRENCY} concurrent: ${mode.label}`,
            unit: "calls/s",
            samples: (runs[i] ?? []).map((r) => r.callsPerSecond),
          }),
        );
        const [off, sampled, everything] = figures;
        if (off !== undefined && sampled !== undefined && everything !== undefined) {
          context.ratio("Predict, tracing on at 1 % / off", sampled, off, {
            op: ">=",
            bound: 0.95,
            text: ">= 0.95",
          });
          context.ratio("Predict, tracing on at 100 % / off (reported, no target)", everything, off);
        }
        const cpu = modes.map((mode, i) =>
          context.record({
            name: `Predict server CPU per call, ${CONCURRENCY} concurrent: ${mode.label} (gRPC included)`,
            unit: "µs",
            samples: cpuMicros[i] ?? [],
          }),
        );
        const [cpuOff, cpuSampled, cpuEverything] = cpu;
        if (cpuOff !== undefined && cpuSampled !== undefined && cpuEverything !== undefined) {
          context.ratio("server CPU per call, off / on at 1 % (as a throughput ratio)", cpuOff, cpuSampled);
          context.ratio(
            "server CPU per call, off / on at 100 % (as a throughput ratio)",
            cpuOff,
            cpuEverything,
          );
        }
        for (const [i, mode] of modes.entries()) {
          context.note(`p99 ${mode.label}: ${median((runs[i] ?? []).map((r) => r.p99Ms)).toFixed(2)} ms`);
        }
        context.note(
          `spans exported to the sink: ${exports} requests, ${exportedBytes.toLocaleString("en-US")} bytes`,
        );
      } finally {
        for (const client of clients) client.close();
      }
    } finally {
      for (const child of setup.children) await child.stop();
      await rm(setup.dir, { recursive: true, force: true });
      sink.close();
    }
  },
};
