/**
 * Bench section: what the local grpc-web bridge adds to Predict's latency (issue 5's
 * target: <= 15 % on the median). A real PredictService replica and the bridge run as
 * their own processes, as with `npm start`; the same request goes straight to Predict
 * with grpc-js and through the bridge with a keep-alive HTTP/1.1 client, sequentially and
 * at 16 concurrent calls, in alternating rounds so drift hits both alike.
 *
 * Both paths do what the real ones do: the bridge gets the headers Chromium sends for the
 * web UI's Predict call (fetch metadata, client hints, the UI's 10 s grpc-timeout), which
 * it must sort out per call, and its answer is checked frame by frame as the UI's client
 * reads it; the direct call carries the same 10 s deadline, so Predict arms the same timer
 * on both paths. The client shares the machine's cores with both servers, so it is kept
 * light: headers built once, one buffer per answer.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client, credentials } from "@grpc/grpc-js";
import { PredictRequest, PredictServiceService } from "../../services/gen/liver/v1/predict_service.js";
import { validPatient } from "../../services/predict/testing/patients.js";
import { generateSyntheticDataset } from "../../services/shared/data/synthetic-dataset.js";
import { writeArtifact } from "../../services/shared/model/model-artifact.js";
import { runTrainingPipeline } from "../../services/shared/model/training-pipeline.js";
import { ChildService, startPredictProcess } from "../../services/predict/testing/child-service.js";
import { encodeMessageFrame } from "../../gateway/bridge/testing/grpc-web-fetch-client.js";
import { quantile, type BenchContext, type BenchSection } from "./bench-harness.js";

export const order = 40;

const identity = (bytes: Buffer): Buffer => bytes;

/**
 * Calls on each path before each measurement. With 300, the quick run's figures still moved
 * with how many calls came before them (the bridge process sees only bridge calls, so its
 * hot paths get optimized later than Predict's, which both paths exercise).
 */
const WARM_UP_CALLS = 2_000;

/** The web UI's Predict deadline (public-methods.ts: 10 s), as its client sends it. */
const DEADLINE_MS = 10_000;

/** What Chromium sends with the web UI's Predict call (same-origin fetch), besides host and length. */
function browserHeaders(port: number): Record<string, string> {
  const origin = `http://127.0.0.1:${port}`;
  return {
    "content-type": "application/grpc-web+proto",
    accept: "application/grpc-web+proto",
    "x-grpc-web": "1",
    "grpc-timeout": `${DEADLINE_MS}m`,
    origin,
    referer: `${origin}/`,
    "user-agent":
      "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "accept-encoding": "gzip, deflate, br, zstd",
    "accept-language": "en-GB,en;q=0.9",
    "sec-ch-ua": '"Chromium";v="131", "Not_A Brand";v="24"',
    "sec-ch-ua-mobile": "?0",
    "sec-ch-ua-platform": '"Linux"',
    "sec-fetch-dest": "empty",
    "sec-fetch-mode": "cors",
    "sec-fetch-site": "same-origin",
  };
}

/**
 * Checks a grpc-web answer as the UI's client reads it: not trailers-only, one message
 * frame, then a trailer frame whose first line is grpc-status:0. Returns what is wrong.
 */
function grpcWebProblem(headerStatus: string | string[] | undefined, body: Buffer): string | undefined {
  if (headerStatus !== undefined) return `trailers-only answer with grpc-status ${String(headerStatus)}`;
  if (body.length < 10 || body[0] !== 0x00) return "no message frame";
  const trailerAt = 5 + body.readUInt32BE(1);
  if (body[trailerAt] !== 0x80 || body.length !== trailerAt + 5 + body.readUInt32BE(trailerAt + 1)) {
    return "no trailer frame closing the body";
  }
  const trailer = body.toString("latin1", trailerAt + 5, trailerAt + 5 + 16);
  return trailer.startsWith("grpc-status:0\r\n") ? undefined : `trailer frame says ${trailer}`;
}

const patient = validPatient();

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
  const headers = browserHeaders(gatewayPort);
  const direct = (): Promise<void> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(
        grpcPath,
        identity,
        identity,
        message,
        { deadline: Date.now() + DEADLINE_MS },
        (error) => (error ? reject(error) : resolve()),
      );
    });
  const viaBridge = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        { host: "127.0.0.1", port: gatewayPort, path: grpcPath, method: "POST", agent, headers },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (chunk: Buffer) => chunks.push(chunk));
          res.on("end", () => {
            const body = chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks);
            const problem = grpcWebProblem(res.headers["grpc-status"], body);
            if (problem === undefined) resolve();
            else reject(new Error(`bridge answer: ${problem}`));
          });
        },
      );
      req.on("error", reject);
      req.end(frame);
    });
  try {
    const calls = context.quick ? 600 : 2_000;
    for (const concurrency of [1, 16]) {
      // Steady state, as a running gateway is.
      await closedLoop(concurrency, WARM_UP_CALLS, direct);
      await closedLoop(concurrency, WARM_UP_CALLS, viaBridge);
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
