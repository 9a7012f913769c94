/**
 * Bench section: the RetrainService (issue 3's targets). Durable SubmitFeedback throughput
 * at 32 concurrent callers against a bare grpc-js server answering the same message with a
 * constant, both as child processes measured in the same run; then, on the real data,
 * labelled feedback to PROMOTED event latency and the service's memory over consecutive
 * retrains (each retrain trains on the full real dataset plus all feedback so far).
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { credentials, type ClientReadableStream, type ServiceError } from "@grpc/grpc-js";
import {
  FeedbackVerdict,
  ModelVersionEventKind,
  RetrainServiceClient,
  type SubmitFeedbackResponse,
  type WatchModelVersionsResponse,
} from "../../services/gen/liver/v1/retrain_service.js";
import { loadLpdCsv } from "../../services/shared/data/lpd-csv-loader.js";
import { FEATURE_COUNT } from "../../services/shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../../services/shared/feedback/feedback-token.js";
import { waitForServing } from "../../services/shared/grpc/health-probe.js";
import { REAL_CSV_PATH, haveRealCsv } from "../../services/shared/testing/real-dataset.js";
import { ChildService, startRetrainProcess } from "../../services/predict/testing/child-service.js";
import {
  PROMOTE_EVERY_CANDIDATE_ENV,
  randomFeatures,
} from "../../services/retrain/testing/retrain-fixtures.js";
import { type BenchContext, type BenchSection, median } from "./bench-harness.js";

export const order = 20;

/** Concurrent callers of the throughput figure (the number). */
const CALLERS = 32;
const VERDICTS = [
  FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
  FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
  FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
] as const;

function client(port: number): RetrainServiceClient {
  return new RetrainServiceClient(`127.0.0.1:${port}`, credentials.createInsecure());
}

function submit(
  target: RetrainServiceClient,
  feedbackToken: string,
  verdict: FeedbackVerdict,
): Promise<SubmitFeedbackResponse> {
  return new Promise((resolve, reject) => {
    target.submitFeedback(
      { feedbackToken, verdict },
      (error: ServiceError | null, response: SubmitFeedbackResponse) => {
        if (error !== null) reject(error);
        else resolve(response);
      },
    );
  });
}

/** Feedback tokens signed up front, so the client's signing is not part of the figure. */
function tokens(signer: FeedbackTokenSigner, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    signer.sign({
      predictionId: randomUUID(),
      modelVersion: "v1",
      features: randomFeatures(),
      probability: 0.6,
      diagnosis: i % 2 === 0 ? 1 : 2,
      issuedAtMs: Date.now(),
    }),
  );
}

/** Sends every token with CALLERS concurrent callers; returns acknowledged feedbacks per second. */
async function load(target: RetrainServiceClient, batch: readonly string[]): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CALLERS }, async () => {
      for (let i = next++; i < batch.length; i = next++) {
        await submit(
          target,
          batch[i] ?? "",
          VERDICTS[i % VERDICTS.length] ?? FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
        );
      }
    }),
  );
  return batch.length / ((performance.now() - started) / 1000);
}

/** A Prometheus sample's value from the text format, or NaN. */
function metricValue(text: string, name: string): number {
  const line = text.split("\n").find((l) => l.startsWith(`${name} `));
  return line === undefined ? Number.NaN : Number(line.slice(name.length + 1));
}

async function throughput(context: BenchContext, dir: string): Promise<void> {
  const key = randomBytes(32);
  const signer = new FeedbackTokenSigner(key);
  const retrain = await startRetrainProcess({
    RETRAIN_PORT: "0",
    RETRAIN_METRICS_PORT: "0",
    DATA_PATH: path.join(dir, "throughput-data"),
    MODEL_PATH: path.join(dir, "throughput-models"),
    FEEDBACK_SIGNING_KEY: key.toString("hex"),
    // Measure the durable intake alone: no retrain competes for the CPU during the figure.
    RETRAIN_MIN_BATCH: "1000000000",
    // One sender on 127.0.0.1: the per-source hourly limit would measure itself.
    FEEDBACK_PER_SOURCE_PER_HOUR: "0",
  });
  const bare = await ChildService.start({
    entry: "services/retrain/testing/bare-feedback-server.ts",
    env: {},
    readyMessage: "bare feedback server listening",
  });
  const durableClient = client(retrain.port);
  const bareClient = client(bare.port);
  try {
    // The first start trains v1 on the synthetic default; wait for it to finish.
    await waitForServing(`127.0.0.1:${retrain.port}`, 120_000);
    const perSample = context.quick ? 2_000 : 8_000;
    await load(durableClient, tokens(signer, 500));
    await load(bareClient, tokens(signer, 500));
    const durable: number[] = [];
    const baseline: number[] = [];
    for (let run = 0; run < context.runs; run++) {
      durable.push(await load(durableClient, tokens(signer, perSample)));
      baseline.push(await load(bareClient, tokens(signer, perSample)));
    }
    const durableFigure = context.record({
      name: `durable SubmitFeedback, ${CALLERS} concurrent callers (fsync'd group commit)`,
      unit: "fb/s",
      samples: durable,
    });
    const baselineFigure = context.record({
      name: `bare grpc-js answering SubmitFeedback with a constant, ${CALLERS} callers`,
      unit: "fb/s",
      samples: baseline,
    });
    context.ratio("durable / bare SubmitFeedback throughput", durableFigure, baselineFigure, {
      op: ">=",
      bound: 0.6,
      text: ">= 0.60",
    });
    if (retrain.metricsPort !== undefined) {
      const text = await (await fetch(`http://127.0.0.1:${retrain.metricsPort}/metrics`)).text();
      const batches = metricValue(text, "liver_retrain_feedback_commit_batch_size_count");
      const rows = metricValue(text, "liver_retrain_feedback_commit_batch_size_sum");
      const seconds = metricValue(text, "liver_retrain_feedback_commit_duration_seconds_sum");
      context.note(
        `group commit: ${rows} feedbacks in ${batches} transactions (mean ${(rows / batches).toFixed(1)} per fsync, ` +
          `${((seconds / batches) * 1000).toFixed(2)} ms per commit)`,
      );
    }
  } finally {
    durableClient.close();
    bareClient.close();
    await bare.stop();
    await retrain.stop();
  }
}

/** Resident and peak resident memory of a process from /proc (Linux), in MiB. */
function memoryOf(pid: number | undefined): { rss: number; peak: number } | undefined {
  if (pid === undefined) return undefined;
  try {
    const text = readFileSync(`/proc/${pid}/status`, "utf8");
    const kib = (field: string): number =>
      Number(/(\d+) kB/.exec(text.split("\n").find((l) => l.startsWith(field)) ?? "")?.[1]);
    return { rss: kib("VmRSS:") / 1024, peak: kib("VmHWM:") / 1024 };
  } catch {
    return undefined;
  }
}

async function retrains(context: BenchContext, dir: string): Promise<void> {
  if (!haveRealCsv) {
    context.note(`real file not found at ${REAL_CSV_PATH}: latency and memory figures skipped (set LPD_CSV)`);
    return;
  }
  const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
  const key = randomBytes(32);
  const signer = new FeedbackTokenSigner(key);
  const retrain = await startRetrainProcess({
    RETRAIN_PORT: "0",
    RETRAIN_METRICS_PORT: "0",
    DATA_PATH: path.join(dir, "latency-data"),
    MODEL_PATH: path.join(dir, "latency-models"),
    FEEDBACK_SIGNING_KEY: key.toString("hex"),
    TRAINING_CSV: REAL_CSV_PATH,
    // Default debounce window and minimum batch: the latency includes the debounce wait.
    // Every feedback trains and every candidate is promoted: these figures follow promotions.
    ...PROMOTE_EVERY_CANDIDATE_ENV,
  });
  const target = client(retrain.port);
  let stream: ClientReadableStream<WatchModelVersionsResponse> | undefined;
  try {
    // The stream is refused until a version serves: subscribe once v1 (trained at start) is there.
    await waitForServing(`127.0.0.1:${retrain.port}`, 120_000);
    stream = target.watchModelVersions({ afterVersion: "" });
    let waiting: ((event: WatchModelVersionsResponse) => void) | undefined;
    let ended: ((error: Error) => void) | undefined;
    stream.on("data", (event: WatchModelVersionsResponse) => {
      if (event.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED) waiting?.(event);
    });
    stream.on("error", (error: ServiceError) =>
      ended?.(new Error(`the version stream ended: ${error.message}`)),
    );
    const count = context.quick ? 20 : 100;
    const latencies: number[] = [];
    const rss: number[] = [];
    for (let i = 0; i < count; i++) {
      const row = (i * 7919) % dataset.rows;
      const features = dataset.features.slice(row * FEATURE_COUNT, (row + 1) * FEATURE_COUNT);
      const token = signer.sign({
        predictionId: randomUUID(),
        modelVersion: "v1",
        features,
        probability: 0.5,
        diagnosis: dataset.labels[row] === 1 ? 1 : 2,
        issuedAtMs: Date.now(),
      });
      const promoted = new Promise<WatchModelVersionsResponse>((resolve, reject) => {
        waiting = resolve;
        ended = reject;
        setTimeout(
          () => reject(new Error(`no PROMOTED event within 60 s of feedback ${i + 1}`)),
          60_000,
        ).unref();
      });
      const sent = performance.now();
      await submit(
        target,
        token,
        i % 2 === 0 ? FeedbackVerdict.FEEDBACK_VERDICT_CORRECT : FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
      );
      await promoted;
      latencies.push(performance.now() - sent);
      const memory = memoryOf(retrain.pid);
      if (memory !== undefined) rss.push(memory.rss);
    }
    context.record({
      name: `labelled feedback -> PROMOTED event, real data + all feedback (${count} retrains)`,
      unit: "ms",
      samples: latencies,
      target: "<= 500 ms",
      met: median(latencies) <= 500,
    });
    const memory = memoryOf(retrain.pid);
    if (memory === undefined || rss.length < 10) {
      context.note("memory figures need /proc (Linux): skipped");
      return;
    }
    context.record({
      name: `RetrainService peak RSS (VmHWM) over ${count} retrains on real data`,
      unit: "MiB",
      samples: [memory.peak],
      target: "<= 300 MiB",
      met: memory.peak <= 300,
    });
    // Growth: the last tenth against the second tenth (the first is warm-up), medians of each.
    const tenth = Math.max(2, Math.floor(rss.length / 10));
    const early = median(rss.slice(tenth, 2 * tenth));
    const late = median(rss.slice(-tenth));
    context.note(
      `RSS after retrain ${tenth + 1}-${2 * tenth}: ${early.toFixed(1)} MiB; last ${tenth}: ${late.toFixed(1)} MiB`,
    );
    context.record({
      name: `RSS growth over ${count} consecutive retrains`,
      unit: "MiB",
      samples: [late - early],
      target: "<= 10 MiB",
      met: late - early <= 10,
    });
  } finally {
    stream?.cancel();
    target.close();
    await retrain.stop();
  }
}

export const section: BenchSection = {
  title: "RetrainService: durable feedback throughput, feedback-to-promotion latency, retrain memory",
  async run(context) {
    const dir = mkdtempSync(path.join(tmpdir(), "liver-bench-retrain-"));
    try {
      await throughput(context, dir);
      await retrains(context, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
