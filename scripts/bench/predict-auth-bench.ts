/**
 * Bench section: PredictService with JWT authentication (issue 10). Two replica processes
 * serve the same bundled artifact, one with AUTH_ISSUER set (a JWKS file of a key made
 * here) and one without; the bench sends Predict at 64 in flight to each in turn, every
 * in-flight caller with its own signed token (64 clinicians), and states the ratio. The
 * verified-token cache is what keeps it near 1: only each token's first call is verified.
 */
import { writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { Metadata, type ServiceError } from "@grpc/grpc-js";
import type { PatientFeatures } from "../../services/gen/liver/v1/patient.js";
import type { PredictServiceClient, PredictResponse } from "../../services/gen/liver/v1/predict_service.js";
import { writeArtifact } from "../../services/shared/model/model-artifact.js";
import { mintTestToken, newTestKey } from "../../services/shared/auth/testing/test-issuer.js";
import { type ChildService, startPredictProcess } from "../../services/predict/testing/child-service.js";
import { vectorToPatient } from "../../services/predict/testing/patients.js";
import { trainTestArtifact } from "../../services/predict/testing/test-artifacts.js";
import type { BenchContext, BenchSection } from "./bench-harness.js";
import { closedLoop, predictClient, type LoadRun } from "./predict-bench.js";

export const order = 31;

const CONCURRENCY = 64;
const ISSUER = "https://bench-issuer.invalid";
const AUDIENCE = "liver-mesh";

/** One Predict with `metadata`, as a promise. */
function predict(
  client: PredictServiceClient,
  patient: PatientFeatures,
  metadata: Metadata,
): Promise<PredictResponse> {
  return new Promise((resolve, reject) => {
    client.predict(
      { patient },
      metadata,
      { deadline: Date.now() + 30_000 },
      (error: ServiceError | null, response) => {
        if (error === null) resolve(response);
        else reject(error);
      },
    );
  });
}

export const section: BenchSection = {
  title: "PredictService with JWT authentication vs without (issue 10)",
  async run(context: BenchContext): Promise<void> {
    const durationMs = context.quick ? 1_500 : 4_000;
    const dir = await mkdtemp(path.join(tmpdir(), "predict-auth-bench-"));
    const children: ChildService[] = [];
    const clients: PredictServiceClient[] = [];
    try {
      const artifact = await trainTestArtifact("v1", 5);
      const bundle = await writeArtifact(path.join(dir, "bundle"), "v1", artifact.files);
      const key = await newTestKey("bench");
      const jwksFile = path.join(dir, "jwks.json");
      await writeFile(jwksFile, JSON.stringify({ keys: [key.publicJwk] }));
      const replica = (name: string, auth: Record<string, string>): Promise<ChildService> =>
        startPredictProcess({
          RETRAIN_ADDR: "127.0.0.1:1",
          BUNDLED_MODEL_PATH: bundle.dir,
          STARTUP_FALLBACK_MS: "0",
          MODEL_CACHE_PATH: path.join(dir, `cache-${name}`),
          DATA_PATH: path.join(dir, "data"),
          FEEDBACK_SIGNING_KEY: "ab".repeat(32),
          ...auth,
        });
      const open = await replica("open", {});
      children.push(open);
      const guarded = await replica("jwt", {
        AUTH_ISSUER: ISSUER,
        AUTH_AUDIENCE: AUDIENCE,
        AUTH_JWKS_FILE: jwksFile,
      });
      children.push(guarded);
      const openClient = predictClient(open.port);
      const guardedClient = predictClient(guarded.port);
      clients.push(openClient, guardedClient);

      const features = artifact.training.holdout.features;
      const patients = Array.from({ length: Math.min(1_000, artifact.training.holdout.rows) }, (_, i) =>
        vectorToPatient(features, i),
      );
      // One token per in-flight caller: 64 clinicians, each token verified once, then cached.
      const bearers = await Promise.all(
        Array.from({ length: CONCURRENCY }, async (_, i) => {
          const token = await mintTestToken(key, {
            issuer: ISSUER,
            audience: AUDIENCE,
            subject: `clinician-${i}`,
            roles: ["liver-clinician"],
            expiresInS: 3_600,
          });
          const metadata = new Metadata();
          metadata.set("authorization", `Bearer ${token}`);
          return metadata;
        }),
      );
      const none = new Metadata();
      const load = (client: PredictServiceClient, withToken: boolean, ms: number): Promise<LoadRun> =>
        closedLoop(CONCURRENCY, ms, (i) =>
          predict(
            client,
            patients[i % patients.length] as PatientFeatures,
            withToken ? (bearers[i % CONCURRENCY] as Metadata) : none,
          ),
        );
      await load(openClient, false, 1_000);
      await load(guardedClient, true, 1_000);
      const without: LoadRun[] = [];
      const withJwt: LoadRun[] = [];
      for (let run = 0; run < context.runs; run++) {
        without.push(await load(openClient, false, durationMs));
        withJwt.push(await load(guardedClient, true, durationMs));
      }
      const baseRate = context.record({
        name: `Predict calls/s, ${CONCURRENCY} concurrent: authentication off`,
        unit: "calls/s",
        samples: without.map((r) => r.callsPerSecond),
      });
      const jwtRate = context.record({
        name: `Predict calls/s, ${CONCURRENCY} concurrent: JWT verified (64 callers' tokens, cached)`,
        unit: "calls/s",
        samples: withJwt.map((r) => r.callsPerSecond),
      });
      context.ratio("Predict throughput with JWT vs without", jwtRate, baseRate, {
        op: ">=",
        bound: 0.85,
        text: ">= 0.85",
      });
    } finally {
      for (const client of clients) client.close();
      for (const child of children) await child.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
};
