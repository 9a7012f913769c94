/**
 * Bench section: what the local grpc-web bridge adds to Predict's latency (issue 5's
 * target: <= 15 % on the median). A real PredictService replica and the bridge run as
 * their own processes, as with `npm start`; the same request goes straight to Predict
 * with grpc-js and through the bridge with a keep-alive HTTP/1.1 client, sequentially and
 * at 16 concurrent calls, in alternating rounds so drift hits both alike.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client, credentials } from "@grpc/grpc-js";
import { PredictRequest, PredictServiceService } from "../../services/gen/liver/v1/predict_service.js";
import { Gender } from "../../services/gen/liver/v1/patient.js";
import { generateSyntheticDataset } from "../../services/shared/data/synthetic-dataset.js";
import { writeArtifact } from "../../services/shared/model/model-artifact.js";
import { runTrainingPipeline } from "../../services/shared/model/training-pipeline.js";
import { ChildService, startPredictProcess } from "../../services/predict/testing/child-service.js";
import { encodeMessageFrame } from "../../gateway/bridge/grpc-web-framing.js";
import { quantile, type BenchContext, type BenchSection } from "./bench-harness.js";

export const order = 40;

const identity = (bytes: Buffer): Buffer => bytes;

const patient = {
  age: 45,
  gender: Gender.GENDER_MALE,
  totalBilirubin: 0.9,
  directBilirubin: 0.2,
  alkalinePhosphatase: 187,
  alanineAminotransferase: 16,
  aspartateAminotransferase: 18,
  totalProteins: 6.8,
  albumin: 3.3,
  albuminGlobulinRatio: 0.9,
};

async function closedLoop(concurrency: number, calls: number, issue: () => Promise<void>): Promise<number[]> {
  const latencies: number[] = [];
  let remaining = calls;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (remaining > 0) {
        remaining -= 1;
        const started = performance.now();
        await issue();
        latencies.push(performance.now() - started);
      }
    }),
  );
  return latencies;
}

async function measure(context: BenchContext, predictPort: number, gatewayPort: number): Promise<void> {
  const message = Buffer.from(PredictRequest.encode(PredictRequest.fromPartial({ patient })).finish());
  const frame = encodeMessageFrame(message);
  const grpcPath = PredictServiceService.predict.path;
  const client = new Client(`127.0.0.1:${predictPort}`, credentials.createInsecure());
  const agent = new Agent({ keepAlive: true, maxSockets: 32 });
  const direct = (): Promise<void> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(grpcPath, identity, identity, message, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  const viaBridge = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: gatewayPort, path: grpcPath, method: "POST", agent },
        (res) => {
          let body = Buffer.alloc(0);
          res.on("data", (chunk: Buffer) => (body = Buffer.concat([body, chunk])));
          res.on("end", () => {
            const trailer = body.toString("latin1");
            if (res.headers["grpc-status"] !== undefined && res.headers["grpc-status"] !== "0") {
              reject(new Error(`bridge answered grpc-status ${String(res.headers["grpc-status"])}`));
            } else if (!trailer.includes("grpc-status:0")) {
              reject(new Error(`bridge answer without grpc-status 0: ${trailer.slice(-80)}`));
            } else resolve();
          });
        },
      );
      req.setHeader("content-type", "application/grpc-web+proto");
      req.setHeader("x-grpc-web", "1");
      req.on("error", reject);
      req.end(frame);
    });
  try {
    const calls = context.quick ? 600 : 2_000;
    for (const concurrency of [1, 16]) {
      await closedLoop(concurrency, 300, direct);
      await closedLoop(concurrency, 300, viaBridge);
      const directSamples: number[] = [];
      const bridgeSamples: number[] = [];
      const rounds = context.runs;
      for (let round = 0; round < rounds; round++) {
        directSamples.push(quantile(await closedLoop(concurrency, calls, direct), 0.5));
        bridgeSamples.push(quantile(await closedLoop(concurrency, calls, viaBridge), 0.5));
      }
      const directFigure = context.record({
        name: `Predict median latency, direct grpc-js, ${concurrency} concurrent`,
        unit: "ms",
        samples: directSamples,
      });
      const bridgeFigure = context.record({
        name: `Predict median latency, through the bridge, ${concurrency} concurrent`,
        unit: "ms",
        samples: bridgeSamples,
      });
      context.ratio(`bridge / direct median latency, ${concurrency} concurrent`, bridgeFigure, directFigure, {
        op: "<=",
        bound: 1.15,
        text: "<= 1.15",
      });
    }
  } finally {
    agent.destroy();
    client.close();
  }
}

export const section: BenchSection = {
  title: "Gateway (issue 5): what the local grpc-web bridge adds to Predict's latency",
  async run(context) {
    const dir = await mkdtemp(path.join(tmpdir(), "liver-bench-gateway-"));
    const children: ChildService[] = [];
    try {
      const training = await runTrainingPipeline({
        original: generateSyntheticDataset(30_691, 1),
        artifact: { version: "v1" },
      });
      if (training.artifact === undefined) throw new Error("the training pipeline built no artifact");
      const bundle = await writeArtifact(path.join(dir, "bundle"), "v1", training.artifact.files);
      const predict = await startPredictProcess({
        RETRAIN_ADDR: "127.0.0.1:1",
        BUNDLED_MODEL_PATH: bundle.dir,
        STARTUP_FALLBACK_MS: "0",
        MODEL_CACHE_PATH: path.join(dir, "cache"),
        DATA_PATH: path.join(dir, "data"),
        FEEDBACK_SIGNING_KEY: randomBytes(32).toString("hex"),
      });
      children.push(predict);
      const gateway = await ChildService.start({
        entry: "gateway/bridge/main.ts",
        env: {
          GATEWAY_PORT: "0",
          GATEWAY_HOST: "127.0.0.1",
          PREDICT_ADDRS: `127.0.0.1:${predict.port}`,
          RETRAIN_ADDR: "127.0.0.1:1",
          WEB_ROOT: path.join(dir, "web"),
        },
        readyMessage: "gateway ready",
      });
      children.push(gateway);
      context.note("Predict replica and bridge each in their own process; request: one patient");
      await measure(context, predict.port, gateway.port);
    } finally {
      await Promise.all(children.map((child) => child.stop()));
      await rm(dir, { recursive: true, force: true });
    }
  },
};
