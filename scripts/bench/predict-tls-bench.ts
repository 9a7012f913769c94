/**
 * Bench section: Predict over mTLS (issue 9). Two replicas serving the same bundled artifact,
 * one plaintext and one requiring TLS with client certificates (TLS_CERT_FILE, TLS_KEY_FILE,
 * TLS_CLIENT_CA_FILE from a throwaway CA), each in its own process; the bench process drives
 * 64 calls in flight at each in turn, same run, and reports mTLS throughput / plaintext.
 */
import path from "node:path";
import { credentials } from "@grpc/grpc-js";
import { pino } from "pino";
import { PredictServiceClient } from "../../services/gen/liver/v1/predict_service.js";
import { startPredictProcess } from "../../services/predict/testing/child-service.js";
import { grpcChannelCredentials } from "../../services/shared/tls/grpc-tls-credentials.js";
import { writeThrowawayPki } from "../../services/shared/tls/throwaway-ca.js";
import { PLAINTEXT } from "../../services/shared/tls/tls-settings.js";
import { rm } from "node:fs/promises";
import type { BenchContext, BenchSection } from "./bench-harness.js";
import {
  CONCURRENCY,
  call,
  closedLoop,
  type LoadRun,
  prepare,
  type Setup,
  track,
  waitForVersion,
} from "./predict-bench.js";

export const order = 31;

const CLIENT_OPTIONS = {
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  "grpc-node.flow_control_window": 16 * 1024 * 1024,
};

async function mtlsThroughput(context: BenchContext, setup: Setup): Promise<void> {
  const durationMs = context.quick ? 1_500 : 4_000;
  const pki = await writeThrowawayPki(path.join(setup.dir, "tls"), ["predict", "client"]);
  const server = pki.identities.get("predict");
  const client = pki.identities.get("client");
  if (server === undefined || client === undefined) throw new Error("no certificates were made");
  const replicaEnv = (name: string): Record<string, string> => ({
    RETRAIN_ADDR: "127.0.0.1:1",
    BUNDLED_MODEL_PATH: setup.bundleDir,
    STARTUP_FALLBACK_MS: "0",
    MODEL_CACHE_PATH: path.join(setup.dir, `cache-${name}`),
    DATA_PATH: path.join(setup.dir, "data"),
    FEEDBACK_SIGNING_KEY: setup.signingKey,
  });
  const plain = await track(setup, startPredictProcess(replicaEnv("plain")));
  const secured = await track(
    setup,
    startPredictProcess({
      ...replicaEnv("mtls"),
      TLS_CERT_FILE: server.certFile,
      TLS_KEY_FILE: server.keyFile,
      TLS_CLIENT_CA_FILE: pki.caFile,
    }),
  );
  const plainClient = new PredictServiceClient(
    `127.0.0.1:${plain.port}`,
    credentials.createInsecure(),
    CLIENT_OPTIONS,
  );
  const mtlsCredentials = grpcChannelCredentials(
    { ...PLAINTEXT, certFile: client.certFile, keyFile: client.keyFile, caFile: pki.caFile },
    pino({ level: "warn" }),
  );
  // The certificate names localhost; dialling the IP keeps both clients on the same path.
  const mtlsClient = new PredictServiceClient(`127.0.0.1:${secured.port}`, mtlsCredentials, {
    ...CLIENT_OPTIONS,
    "grpc.ssl_target_name_override": "localhost",
  });
  try {
    const patients = setup.patients;
    const first = patients[0];
    if (first === undefined) throw new Error("no patients");
    await waitForVersion(plainClient, first, (v) => v === "v1");
    await waitForVersion(mtlsClient, first, (v) => v === "v1");
    const load = (target: PredictServiceClient, ms: number): Promise<LoadRun> =>
      closedLoop(CONCURRENCY, ms, (i) =>
        call(target.predict.bind(target), { patient: patients[i % patients.length] }),
      );
    await load(plainClient, 1_000);
    await load(mtlsClient, 1_000);
    const plainRuns: LoadRun[] = [];
    const mtlsRuns: LoadRun[] = [];
    for (let run = 0; run < context.runs; run++) {
      plainRuns.push(await load(plainClient, durationMs));
      mtlsRuns.push(await load(mtlsClient, durationMs));
    }
    const plainRate = context.record({
      name: `Predict calls/s, ${CONCURRENCY} in flight: plaintext`,
      unit: "calls/s",
      samples: plainRuns.map((r) => r.callsPerSecond),
    });
    const mtlsRate = context.record({
      name: `Predict calls/s, ${CONCURRENCY} in flight: mTLS`,
      unit: "calls/s",
      samples: mtlsRuns.map((r) => r.callsPerSecond),
    });
    context.ratio("Predict throughput, mTLS vs plaintext", mtlsRate, plainRate, {
      op: ">=",
      bound: 0.8,
      text: ">= 0.80",
    });
    const plainP99 = context.record({
      name: "Predict p99 latency: plaintext",
      unit: "ms",
      samples: plainRuns.map((r) => r.p99Ms),
    });
    const mtlsP99 = context.record({
      name: "Predict p99 latency: mTLS",
      unit: "ms",
      samples: mtlsRuns.map((r) => r.p99Ms),
    });
    context.ratio("Predict p99, mTLS vs plaintext", mtlsP99, plainP99);
  } finally {
    plainClient.close();
    mtlsClient.close();
    await plain.stop();
    await secured.stop();
  }
}

export const section: BenchSection = {
  title: "PredictService over mTLS vs plaintext (issue 9)",
  async run(context: BenchContext): Promise<void> {
    const setup = await prepare(context);
    try {
      await mtlsThroughput(context, setup);
    } finally {
      for (const child of setup.children) await child.stop();
      await rm(setup.dir, { recursive: true, force: true });
    }
  },
};
