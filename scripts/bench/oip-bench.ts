/**
 * Bench section: the Open Inference Protocol (issue 17). One PredictService replica in its own
 * process serves both protocols; the bench process is the client, with pre-encoded requests
 * and answers kept as bytes, so the figures are the server's:
 *   - ModelInfer, 1,000 patients per call, raw_input_contents, omit_feedback_tokens, against
 *     PredictBatch of the same 1,000 patients with omit_feedback_tokens, same replica, same run
 *     (target >= 0.9);
 *   - ModelInfer with typed contents and with feedback tokens, for context.
 * Runs alternate between the two protocols so both see the same machine.
 */
import type { Client } from "@grpc/grpc-js";
import { PredictBatchRequest } from "../../services/gen/liver/v1/predict_service.js";
import { InferParameter, ModelInferRequest } from "../../services/gen/open_inference_grpc.js";
import { inferRequest } from "../../services/predict/testing/open-inference-client.js";
import { type BenchContext, type BenchSection, median } from "./bench-harness.js";
import {
  type LoadRun,
  bundledReplica,
  bytesCall,
  bytesClient,
  closedLoop,
  predictClient,
  prepare,
  processCpuSeconds,
  waitForVersion,
} from "./predict-bench.js";
import { rm } from "node:fs/promises";

export const order = 32;

const BATCH_SIZE = 1_000;
/** Calls in flight: enough to keep the replica busy while answers travel. */
const CONCURRENCY = 4;

interface Mode {
  readonly label: string;
  readonly method: string;
  readonly requests: readonly Buffer[];
}

export const section: BenchSection = {
  title: "Open Inference Protocol: ModelInfer against PredictBatch (issue 17)",
  async run(context: BenchContext): Promise<void> {
    const setup = await prepare(context);
    const clients: Client[] = [];
    try {
      const replica = await bundledReplica(setup, "oip");
      const first = setup.patients[0];
      if (first === undefined) throw new Error("no patients");
      const predict = predictClient(replica.port);
      clients.push(predict);
      await waitForVersion(predict, first, (v) => v === "v1");
      const batches = [0, 1].map((b) =>
        Array.from(
          { length: BATCH_SIZE },
          (_, i) => setup.patients[(b * BATCH_SIZE + i) % setup.patients.length] ?? first,
        ),
      );
      const noTokens = { omit_feedback_tokens: InferParameter.fromPartial({ boolParam: true }) };
      const infer = (raw: boolean, tokens: boolean): Buffer[] =>
        batches.map((patients) =>
          Buffer.from(
            ModelInferRequest.encode(
              inferRequest(patients, { raw, parameters: tokens ? {} : noTokens }),
            ).finish(),
          ),
        );
      const batch: Mode = {
        label: "PredictBatch, no tokens",
        method: "/liver.v1.PredictService/PredictBatch",
        requests: batches.map((patients) =>
          Buffer.from(
            PredictBatchRequest.encode(
              PredictBatchRequest.fromPartial({ patients, omitFeedbackTokens: true }),
            ).finish(),
          ),
        ),
      };
      const modelInfer = "/inference.GRPCInferenceService/ModelInfer";
      const rawInfer: Mode = {
        label: "ModelInfer, raw contents, no tokens",
        method: modelInfer,
        requests: infer(true, false),
      };
      const typedInfer: Mode = {
        label: "ModelInfer, typed contents, no tokens",
        method: modelInfer,
        requests: infer(false, false),
      };
      const tokenInfer: Mode = {
        label: "ModelInfer, raw contents, signed token per patient",
        method: modelInfer,
        requests: infer(true, true),
      };
      const client = bytesClient(replica.port);
      clients.push(client);
      const durationMs = context.quick ? 1_500 : 3_000;
      const load = (mode: Mode, ms: number): Promise<LoadRun> =>
        closedLoop(CONCURRENCY, ms, (i) =>
          bytesCall(client, mode.method, mode.requests[i % 2] ?? Buffer.alloc(0)),
        );
      const modes = [batch, rawInfer, typedInfer, tokenInfer];
      for (const mode of modes) await load(mode, 800);
      const samples = new Map<Mode, number[]>(modes.map((m) => [m, []]));
      const cpu = new Map<Mode, number[]>(modes.map((m) => [m, []]));
      const pairRatios: number[] = [];
      for (let run = 0; run < context.runs * 2; run++) {
        // Alternate which protocol goes first, so drift in the machine's load hits both.
        const ordered = run % 2 === 0 ? modes : [...modes].reverse();
        const thisRun = new Map<Mode, number>();
        for (const mode of ordered) {
          const before = processCpuSeconds(replica.pid);
          const result = await load(mode, durationMs);
          const after = processCpuSeconds(replica.pid);
          const patientsPerSecond = result.callsPerSecond * BATCH_SIZE;
          samples.get(mode)?.push(patientsPerSecond);
          thisRun.set(mode, patientsPerSecond);
          if (before !== undefined && after !== undefined) {
            cpu.get(mode)?.push(((after - before) * 1000) / ((result.callsPerSecond * durationMs) / 1000));
          }
        }
        pairRatios.push((thisRun.get(rawInfer) ?? Number.NaN) / (thisRun.get(batch) ?? Number.NaN));
      }
      const figures = new Map(
        modes.map((mode) => [
          mode,
          context.record({
            name: `${mode.label}, ${BATCH_SIZE.toLocaleString("en-US")} patients per call`,
            unit: "patients/s",
            samples: samples.get(mode) ?? [],
          }),
        ]),
      );
      for (const mode of modes) {
        const perBatch = cpu.get(mode) ?? [];
        if (perBatch.length > 0) {
          context.record({
            name: `server CPU per call of ${BATCH_SIZE.toLocaleString("en-US")}, ${mode.label} (gRPC included)`,
            unit: "ms",
            samples: perBatch,
          });
        }
      }
      const rawFigure = figures.get(rawInfer);
      const batchFigure = figures.get(batch);
      if (rawFigure !== undefined && batchFigure !== undefined) {
        context.ratio(
          "ModelInfer raw, no tokens / PredictBatch, no tokens (patients/s)",
          rawFigure,
          batchFigure,
          {
            op: ">=",
            bound: 0.9,
            text: ">= 0.9",
          },
        );
      }
      context.note(`median of the per-run ratios (cross-check): ${median(pairRatios).toFixed(3)}`);
      const batchCpu = cpu.get(batch) ?? [];
      const rawCpu = cpu.get(rawInfer) ?? [];
      if (batchCpu.length > 0 && rawCpu.length > 0) {
        // Server CPU per call moves less with the machine's other load than calls/s do.
        context.note(
          `server CPU per call, PredictBatch / ModelInfer raw (cross-check, > 1 means ModelInfer is cheaper): ${(median(batchCpu) / median(rawCpu)).toFixed(3)}`,
        );
      }
    } finally {
      for (const c of clients) c.close();
      for (const child of setup.children) await child.stop();
      await rm(setup.dir, { recursive: true, force: true });
    }
  },
};
