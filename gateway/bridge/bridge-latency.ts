/**
 * What the grpc-web bridge adds to a unary call: the same Predict request sent sequentially
 * straight to a gRPC server with grpc-js, and through the bridge with a keep-alive HTTP/1.1
 * client (node:http, the lightest) and with fetch() (as a browser-like client). All in one
 * process on loopback, so the figures include each client's own cost; compare medians.
 *
 *   npx tsx gateway/bridge/bridge-latency.ts [calls]     (default 2000 per client)
 */
import { Agent, request } from "node:http";
import { pathToFileURL } from "node:url";
import { Client, credentials, Server, ServerCredentials, status } from "@grpc/grpc-js";
import pino from "pino";
import {
  PredictRequest,
  PredictResponse,
  PredictServiceService,
  type PredictServiceServer,
} from "../../services/gen/liver/v1/predict_service.js";
import { encodeMessageFrame } from "../grpc-web-framing.js";
import { GrpcWebBridge } from "./grpc-web-bridge.js";
import { grpcWebCall } from "./grpc-web-fetch-client.js";

/** Median, 95th percentile and mean of one client's per-call times, in milliseconds. */
export interface LatencySummary {
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly meanMs: number;
}

/** Per-client summaries and the bridge's added median latency. */
export interface BridgeLatencyReport {
  readonly calls: number;
  readonly direct: LatencySummary;
  readonly bridgeHttp: LatencySummary;
  readonly bridgeFetch: LatencySummary;
  /** bridgeHttp.median - direct.median: what the extra hop costs. */
  readonly addedMedianMs: number;
}

function summarize(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const round = (x: number): number => Math.round(x * 1000) / 1000;
  return {
    medianMs: round(at(0.5)),
    p95Ms: round(at(0.95)),
    meanMs: round(sorted.reduce((a, b) => a + b, 0) / sorted.length),
  };
}

async function time(calls: number, call: () => Promise<void>): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < calls; i++) {
    const start = performance.now();
    await call();
    samples.push(performance.now() - start);
  }
  return samples;
}

// A realistic answer: a feedback token of a few hundred bytes dominates the message.
const response = PredictResponse.fromPartial({
  probability: 0.73,
  modelVersion: "v3",
  predictionId: "6f1c1c9e-3f7a-4b61-9a55-0b5f3f5d2b11",
  feedbackToken: "t".repeat(420),
});
const handlers: PredictServiceServer = {
  predict: (_call, callback) => callback(null, response),
  predictBatch: (_call, callback) => callback({ code: status.UNIMPLEMENTED, details: "not measured" }),
  getModelInfo: (_call, callback) => callback({ code: status.UNIMPLEMENTED, details: "not measured" }),
};

/** Starts a fake Predict server and the bridge on loopback and times `calls` calls per client. */
export async function measureBridgeLatency(calls: number): Promise<BridgeLatencyReport> {
  const server = new Server();
  server.addService(PredictServiceService, handlers);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  const address = `127.0.0.1:${port}`;
  const bridge = new GrpcWebBridge({
    predictAddresses: [address],
    retrainAddress: address,
    logger: pino({ level: "silent" }),
  });
  const { port: bridgePort } = await bridge.listen(0, "127.0.0.1");
  const base = `http://127.0.0.1:${bridgePort}`;
  const client = new Client(address, credentials.createInsecure());
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const message = Buffer.from(
    PredictRequest.encode(PredictRequest.fromPartial({ patient: { age: 45, totalBilirubin: 0.9 } })).finish(),
  );
  const frame = encodeMessageFrame(message);
  const identity = (b: Buffer): Buffer => b;
  const path = PredictServiceService.predict.path;

  const direct = (): Promise<void> =>
    new Promise((resolve, reject) => {
      client.makeUnaryRequest(path, identity, identity, message, (error) =>
        error ? reject(error) : resolve(),
      );
    });
  const viaHttp = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = request(
        `${base}${path}`,
        { method: "POST", agent, headers: { "content-type": "application/grpc-web+proto" } },
        (res) => {
          res.on("data", () => undefined);
          res.on("end", resolve);
        },
      );
      req.on("error", reject);
      req.end(frame);
    });
  const viaFetch = async (): Promise<void> => {
    const reply = await grpcWebCall(base, path, message);
    if (reply.code !== 0) throw new Error(`bridge answered grpc-status ${reply.code}: ${reply.message}`);
  };

  try {
    // Warm up channels, sockets and JIT, then interleave rounds so drift hits all clients alike.
    for (const f of [direct, viaHttp, viaFetch]) await time(200, f);
    const samples = { direct: [] as number[], http: [] as number[], fetch: [] as number[] };
    const rounds = 5;
    for (let r = 0; r < rounds; r++) {
      samples.direct.push(...(await time(Math.ceil(calls / rounds), direct)));
      samples.http.push(...(await time(Math.ceil(calls / rounds), viaHttp)));
      samples.fetch.push(...(await time(Math.ceil(calls / rounds), viaFetch)));
    }
    const report = {
      calls: samples.direct.length,
      direct: summarize(samples.direct),
      bridgeHttp: summarize(samples.http),
      bridgeFetch: summarize(samples.fetch),
    };
    return {
      ...report,
      addedMedianMs: Math.round((report.bridgeHttp.medianMs - report.direct.medianMs) * 1000) / 1000,
    };
  } finally {
    agent.destroy();
    client.close();
    await bridge.close();
    server.forceShutdown();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const calls = Number(process.argv[2] ?? 2000);
  if (!Number.isInteger(calls) || calls < 10 || calls > 1_000_000) {
    console.error(`calls ${process.argv[2] ?? ""} is not valid: expected a whole number from 10 to 1000000`);
    process.exit(2);
  }
  measureBridgeLatency(calls).then(
    (report) => console.log(JSON.stringify(report, null, 2)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
