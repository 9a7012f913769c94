import path from "node:path";
import { status } from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Gender } from "../gen/liver/v1/patient.js";
import { type Explanation, ModelSource } from "../gen/liver/v1/predict_service.js";
import { FEATURES } from "../shared/features/feature-schema.js";
import { loadLpdCsv } from "../shared/data/lpd-csv-loader.js";
import { generateSyntheticDataset } from "../shared/data/synthetic-dataset.js";
import { writeArtifact } from "../shared/model/model-artifact.js";
import { runTrainingPipeline } from "../shared/model/training-pipeline.js";
import { DATA_USED, REAL_CSV_PATH, haveRealCsv } from "../shared/testing/real-dataset.js";
import { nearestNormal, referenceInterval } from "../shared/features/clinical-reference.js";
import { FakeRetrainServer } from "./testing/fake-retrain-server.js";
import { callFailure } from "./testing/predict-clients.js";
import { validPatient, vectorToPatient } from "./testing/patients.js";
import { ReplicaFixture, deadAddress, type TestReplica } from "./testing/replica-fixture.js";
import { trainTestArtifact, withFlippedByte, type TestArtifact } from "./testing/test-artifacts.js";
import { waitUntil } from "./testing/wait-until.js";

const fixture = new ReplicaFixture();
let v1: TestArtifact;
let v2: TestArtifact;
let v3: TestArtifact;

beforeAll(async () => {
  [v1, v2, v3] = await Promise.all([
    trainTestArtifact("v1", 31),
    trainTestArtifact("v2", 32),
    trainTestArtifact("v3", 33),
  ]);
});

afterAll(() => fixture.close());

const failure = callFailure;

async function startFake(): Promise<FakeRetrainServer> {
  const fake = new FakeRetrainServer();
  await fake.start(0);
  fixture.onClose(() => fake.stop());
  return fake;
}

/** A fake RetrainService that promoted v1, and a replica following it that serves v1. */
async function replicaServingV1(): Promise<TestReplica & { fake: FakeRetrainServer }> {
  const fake = await startFake();
  fake.promote(v1);
  const replica = await fixture.replica(`127.0.0.1:${fake.port}`);
  await replica.server.holder.waitFor((m) => m.version === "v1", 60_000);
  return { ...replica, fake };
}

async function metricsText(port: number): Promise<string> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  return response.text();
}

describe("a replica with no model", () => {
  it("stays NOT_SERVING and answers UNAVAILABLE with a message, never a made-up answer", async () => {
    const retrainAddr = await deadAddress();
    const { client, server } = await fixture.replica(retrainAddr, { startupFallbackMs: 50 });
    await waitUntil("the failed connection attempt", async () =>
      (await metricsText(server.metricsPort)).includes("liver_predict_version_stream_reconnects_total 1"),
    );
    await server.idle();
    expect(await client.healthStatus()).toBe("NOT_SERVING");
    expect(await client.healthStatus("liver.v1.PredictService")).toBe("NOT_SERVING");
    const predict = await failure(client.predict(validPatient()));
    expect(predict.code).toBe(status.UNAVAILABLE);
    expect(predict.details).toBe(
      "no model loaded yet: this replica has not received one from RetrainService and has no cached or bundled artifact; it keeps trying (see GetModelInfo and grpc.health.v1), retry shortly",
    );
    expect((await failure(client.predictBatch([validPatient()]))).code).toBe(status.UNAVAILABLE);
    const info = await client.modelInfo();
    expect(info.modelVersion).toBe("");
    expect(info.source).toBe(ModelSource.MODEL_SOURCE_UNSPECIFIED);
    expect(info.subscribed).toBe(false);
    expect(info.features).toHaveLength(10);
  });
});

describe("live model updates", () => {
  it("serves the current version, then swaps to each promoted one; every answer is from one version", async () => {
    const { fake, client, server } = await replicaServingV1();
    expect(await client.healthStatus()).toBe("SERVING");

    const scorers = new Map<string, { version: string; batch: number[] }>();
    const patients = Array.from({ length: 200 }, (_, i) =>
      validPatient({ age: 20 + (i % 60), albumin: 1 + (i % 5) }),
    );
    const reference = async (version: string): Promise<number[]> => {
      await server.holder.waitFor((m) => m.version === version, 60_000);
      return (await client.predictBatch(patients)).results.map((r) => r.probability);
    };
    scorers.set("v1", { version: "v1", batch: await reference("v1") });
    fake.promote(v2);
    scorers.set("v2", { version: "v2", batch: await reference("v2") });
    expect(scorers.get("v1")?.batch).not.toEqual(scorers.get("v2")?.batch);

    // Flip between the two versions while batches and single predictions are in flight,
    // until at least 10 swaps happened and answers from both versions were seen.
    let swaps = 0;
    const unsubscribe = server.holder.onSwap(() => swaps++);
    const seen = new Set<string>();
    let checked = 0;
    const done = (): boolean => (swaps >= 10 && seen.size === 2) || swaps >= 200;
    const flipper = (async () => {
      while (!done()) {
        const next = server.holder.current?.version === "v1" ? v2 : v1;
        fake.promote(next);
        await server.holder.waitFor((m) => m.version === next.version, 60_000);
        // Let the callers complete a few calls on this version before flipping again.
        const before = checked;
        await waitUntil("calls on the new version", () => checked >= before + 4);
      }
    })();
    const callers = Array.from({ length: 4 }, async () => {
      while (!done()) {
        const answer = await client.predictBatch(patients);
        const expected = scorers.get(answer.modelVersion)?.batch;
        expect(expected).toBeDefined();
        seen.add(answer.modelVersion);
        answer.results.forEach((result, i) => {
          expect(result.modelVersion).toBe(answer.modelVersion);
          expect(result.probability).toBe(expected?.[i]);
        });
        const single = await client.predict(patients[7]);
        expect(single.probability).toBe(scorers.get(single.modelVersion)?.batch[7]);
        checked++;
      }
    });
    await Promise.all([flipper, ...callers]);
    unsubscribe();
    expect(swaps).toBeGreaterThanOrEqual(10);
    expect([...seen].sort()).toEqual(["v1", "v2"]);
    expect(checked).toBeGreaterThan(0);
    const text = await metricsText(server.metricsPort);
    expect(text).toMatch(/liver_predict_model_swaps_total\{source="RetrainService"\} (\d+)/);
    expect(text).toContain(
      `liver_predict_serving_model_info{model_version="${server.holder.current?.version ?? ""}",source="RetrainService"} 1`,
    );
  });

  it("refuses a corrupted artifact and keeps serving the old version, saying so everywhere", async () => {
    const { fake, client, server } = await replicaServingV1();

    fake.promote(withFlippedByte(v2, "weights.bin"));
    const info = await waitUntil("v2 refused", async () => {
      const current = await client.modelInfo();
      return current.lastFailedVersion === "v2" ? current : undefined;
    });
    expect(info.modelVersion).toBe("v1");
    expect(info.lastFailure).toBe(
      "artifact refused: weights.bin does not match its sha256 in manifest.json: the file was altered",
    );
    expect((await client.predict(validPatient())).modelVersion).toBe("v1");
    expect(await client.healthStatus()).toBe("SERVING");
    expect(await metricsText(server.metricsPort)).toContain(
      'liver_predict_model_swap_failures_total{stage="verify"} 1',
    );

    // Bytes that are not the ones the event announced are refused before they are parsed.
    fake.promote({ ...v3, sha256: "f".repeat(64) });
    await waitUntil("v3 refused", async () => (await client.modelInfo()).lastFailedVersion === "v3");
    expect((await client.modelInfo()).lastFailure).toBe(
      `artifact refused: manifest.json has sha256 ${v3.sha256}; expected ${"f".repeat(64)} (altered or from another version)`,
    );
    // A refused version is not fetched again on every heartbeat.
    const fetches = fake.artifactRequests.length;
    fake.heartbeat();
    fake.heartbeat();
    await server.idle();
    expect(fake.artifactRequests.length).toBe(fetches);

    // The next good version is served as usual.
    fake.promote(v3);
    await server.holder.waitFor((m) => m.version === "v3", 60_000);
    expect((await client.predict(validPatient())).modelVersion).toBe("v3");
  });

  it("repairs a missed event from the version a heartbeat names", async () => {
    const { fake, server } = await replicaServingV1();
    fake.silent = true;
    fake.promote(v2); // lost
    fake.silent = false;
    fake.heartbeat();
    await server.holder.waitFor((m) => m.version === "v2", 60_000);
  });
});

describe("fallback when RetrainService is unreachable", () => {
  it("serves the local cache of the last good version, says so, and follows Retrain once it is back", async () => {
    const fake = await startFake();
    fake.promote(v2);
    const first = await fixture.replica(`127.0.0.1:${fake.port}`);
    await first.server.holder.waitFor((m) => m.version === "v2", 60_000);
    await first.server.idle();
    await first.server.close(100);
    const port = fake.port;
    await fake.stop();

    const restarted = await fixture.replica(`127.0.0.1:${port}`, {
      modelCachePath: first.config.modelCachePath,
    });
    const model = await restarted.server.holder.waitFor((m) => m.version === "v2", 60_000);
    expect(model.source).toBe(ModelSource.MODEL_SOURCE_LOCAL_CACHE);
    expect(await restarted.client.healthStatus()).toBe("SERVING");
    const info = await restarted.client.modelInfo();
    expect(info.source).toBe(ModelSource.MODEL_SOURCE_LOCAL_CACHE);
    expect(info.subscribed).toBe(false);
    expect((await restarted.client.predict(validPatient())).modelVersion).toBe("v2");

    const back = new FakeRetrainServer();
    back.addVersion(v2);
    back.promote(v3);
    await back.start(port);
    fixture.onClose(() => back.stop());
    const fresh = await restarted.server.holder.waitFor((m) => m.version === "v3", 60_000);
    expect(fresh.source).toBe(ModelSource.MODEL_SOURCE_RETRAIN_SERVICE);
    expect(back.watchRequests[0]).toBe("v2");
    expect((await restarted.client.modelInfo()).subscribed).toBe(true);
  });

  it("serves the bundled artifact when the cache is empty", async () => {
    const bundleParent = await fixture.tempDir("predict-bundle-");
    const written = await writeArtifact(bundleParent, "v1", v1.files);
    const { client, server } = await fixture.replica(await deadAddress(), { bundledModelPath: written.dir });
    const model = await server.holder.waitFor((m) => m.version === "v1", 60_000);
    expect(model.source).toBe(ModelSource.MODEL_SOURCE_BUNDLED);
    expect(model.sha256).toBe(v1.sha256);
    expect((await client.modelInfo()).source).toBe(ModelSource.MODEL_SOURCE_BUNDLED);
    expect((await client.predict(validPatient())).modelVersion).toBe("v1");
  });

  it("refuses a damaged bundle and stays NOT_SERVING", async () => {
    const bundleParent = await fixture.tempDir("predict-bundle-");
    const damaged = withFlippedByte(v1, "pipeline.json");
    const { writeFile, mkdir } = await import("node:fs/promises");
    const dir = path.join(bundleParent, "v1");
    await mkdir(dir);
    for (const file of damaged.files) await writeFile(path.join(dir, file.name), file.content);
    const { client, server } = await fixture.replica(await deadAddress(), { bundledModelPath: dir });
    await waitUntil("the fallback attempt", async () =>
      (await metricsText(server.metricsPort)).includes(
        'liver_predict_model_swap_failures_total{stage="verify"} 1',
      ),
    );
    expect(await client.healthStatus()).toBe("NOT_SERVING");
    expect((await failure(client.predict(validPatient()))).code).toBe(status.UNAVAILABLE);
  });
});

describe("parity", () => {
  it(`answers every holdout row with the pipeline's own evaluation (|Δ| <= 1e-6), ${DATA_USED}`, async () => {
    // The real dataset when it is beside the repository, else a synthetic one.
    const real = haveRealCsv;
    const original = real ? (await loadLpdCsv(REAL_CSV_PATH)).dataset : generateSyntheticDataset(8_000, 41);
    const training = await runTrainingPipeline({ original, artifact: { version: "v1" } });
    const artifact = training.artifact;
    if (artifact === undefined) throw new Error("no artifact");
    const fake = await startFake();
    fake.promote({
      version: "v1",
      sha256: artifact.manifestSha256,
      files: artifact.files.map((f) => ({ name: f.name, content: Buffer.from(f.content), sha256: "" })),
      trainedOnSyntheticData: !real,
    });
    const { client, server } = await fixture.replica(`127.0.0.1:${fake.port}`);
    await server.holder.waitFor((m) => m.version === "v1", 60_000);
    expect((await client.modelInfo()).trainedOnSyntheticData).toBe(!real);
    const { holdout, holdoutProbabilities } = training;
    let worst = 0;
    for (let start = 0; start < holdout.rows; start += 2_000) {
      const rows = Array.from({ length: Math.min(2_000, holdout.rows - start) }, (_, i) =>
        vectorToPatient(holdout.features, start + i),
      );
      const answer = await client.predictBatch(rows);
      answer.results.forEach((result, i) => {
        worst = Math.max(
          worst,
          Math.abs(result.probability - (holdoutProbabilities[start + i] ?? Number.NaN)),
        );
      });
    }
    expect(holdout.rows).toBeGreaterThan(1_000);
    expect(worst).toBeLessThanOrEqual(1e-6);
  });
});

describe("explanations", () => {
  const logit = (p: number): number => Math.log(p) - Math.log1p(-p);
  const total = (e: Explanation | undefined): number =>
    (e?.contributions ?? []).reduce((sum, c) => sum + c.contribution, e?.referenceLogOdds ?? Number.NaN);

  it("explains every Predict answer exactly, largest contribution first, naming the values given", async () => {
    const { client } = await replicaServingV1();
    const patients = [
      validPatient(),
      validPatient({ gender: Gender.GENDER_FEMALE, totalBilirubin: 7.3, alanineAminotransferase: 400 }),
      validPatient({ age: 90, albumin: 1.2 }),
    ];
    for (const patient of patients) {
      const answer = await client.predict(patient);
      const explanation = answer.explanation;
      expect(explanation?.contributions.map((c) => c.name).sort()).toEqual(
        FEATURES.map((spec) => spec.name).sort(),
      );
      expect(Math.abs(total(explanation) - logit(answer.probability))).toBeLessThanOrEqual(1e-9);
      const sizes = explanation?.contributions.map((c) => Math.abs(c.contribution)) ?? [];
      expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
      const given = Object.fromEntries(explanation?.contributions.map((c) => [c.name, c.value]) ?? []);
      expect(given["total_bilirubin"]).toBe(patient.totalBilirubin);
      expect(given["age"]).toBe(patient.age);
      expect(given["gender"]).toBe(patient.gender);
    }
    // The model reads an albumin beyond its upper normal limit as that limit, and the answer
    // says so; a value read as given carries no counted value.
    const high = await client.predict(validPatient({ albumin: 5.8, totalProteins: 8.2 }));
    const counted = Object.fromEntries(
      high.explanation?.contributions.map((c) => [c.name, c.countedValue]) ?? [],
    );
    expect(counted["albumin"]).toBe(referenceInterval("albumin")?.upper);
    expect(counted["total_proteins"]).toBeUndefined();
    expect(counted["age"]).toBeUndefined();
  });

  it("PredictBatch explains and leaves tokens out only when asked; EXPLAIN_PREDICTIONS=false turns Predict's off", async () => {
    const { client, fake } = await replicaServingV1();
    const patients = [validPatient(), validPatient({ totalBilirubin: 20 })];
    const plain = await client.predictBatch(patients);
    expect(plain.results.every((r) => r.explanation === undefined && r.feedbackToken !== "")).toBe(true);
    const rich = await client.predictBatch(patients, { includeExplanations: true, omitFeedbackTokens: true });
    rich.results.forEach((result, i) => {
      expect(result.feedbackToken).toBe("");
      expect(result.probability).toBe(plain.results[i]?.probability);
      expect(Math.abs(total(result.explanation) - logit(result.probability))).toBeLessThanOrEqual(1e-9);
    });
    const single = await client.predict(patients[1]);
    expect(rich.results[1]?.explanation).toEqual(single.explanation);

    const quiet = await fixture.replica(`127.0.0.1:${fake.port}`, { explainPredictions: false });
    await quiet.server.holder.waitFor((m) => m.version === "v1", 60_000);
    const answer = await quiet.client.predict(validPatient());
    expect(answer.explanation).toBeUndefined();
    expect(answer.probability).toBe((await client.predict(validPatient())).probability);
  });
});

describe.skipIf(!haveRealCsv)(
  haveRealCsv
    ? "explanations of every real row, as PredictBatch answers them"
    : `SKIPPED, real file not found at ${REAL_CSV_PATH} (set LPD_CSV): explanations of every real row`,
  () => {
    it("never say a lab outside its normal limits lowered the estimate, nor move it for a lab within them, nor push a constrained feature the wrong way", async () => {
      const { dataset } = await loadLpdCsv(REAL_CSV_PATH);
      const training = await runTrainingPipeline({ original: dataset, artifact: { version: "v1" } });
      const artifact = training.artifact;
      if (artifact === undefined) throw new Error("no artifact");
      const fake = await startFake();
      fake.promote({
        version: "v1",
        sha256: artifact.manifestSha256,
        files: artifact.files.map((f) => ({ name: f.name, content: Buffer.from(f.content), sha256: "" })),
        trainedOnSyntheticData: false,
      });
      const { client, server } = await fixture.replica(`127.0.0.1:${fake.port}`);
      await server.holder.waitFor((m) => m.version === "v1", 20_000);
      let answers = 0;
      let againstDirection = 0;
      let outsideLowered = 0;
      let withinMoved = 0;
      for (let start = 0; start < dataset.rows; start += 5_000) {
        const patients = Array.from({ length: Math.min(5_000, dataset.rows - start) }, (_, i) =>
          vectorToPatient(dataset.features, start + i),
        );
        const batch = await client.predictBatch(patients, {
          includeExplanations: true,
          omitFeedbackTokens: true,
        });
        for (const result of batch.results) {
          answers++;
          let against = false;
          let lowered = false;
          let moved = false;
          for (const { name, value, contribution } of result.explanation?.contributions ?? []) {
            const interval = referenceInterval(name);
            const normal = nearestNormal(name, value);
            if (interval === undefined || normal === undefined) continue;
            // Judged from the answer alone: a value above its nearest normal one must not
            // lower the estimate when higher is worse (and the mirror for lower is worse).
            if (contribution * interval.direction * (value - normal) < 0) against = true;
            if (value !== normal && contribution < 0) lowered = true;
            if (value === normal && contribution !== 0) moved = true;
          }
          if (against) againstDirection++;
          if (lowered) outsideLowered++;
          if (moved) withinMoved++;
        }
      }
      expect(answers).toBe(27_158);
      expect(againstDirection).toBe(0);
      // No value outside its normal range, on either side, reads as lowering the estimate,
      // and a value within it moves nothing.
      expect(outsideLowered).toBe(0);
      expect(withinMoved).toBe(0);
    });
  },
);

describe("input drift", () => {
  it("flags a feature whose inputs left the training distribution, in GetModelInfo and /metrics", async () => {
    const { client, server } = await replicaServingV1();
    const before = (await client.modelInfo()).inputDrift;
    expect(before).toMatchObject({ measured: true, windowRows: 0, windowSize: 500, threshold: 0.25 });
    expect(before?.features.every((f) => !f.drifted)).toBe(true);
    // 300 patients from a clinic whose ALT reads far above anything in training: 200 one at
    // a time, 100 in a batch (of which 64 evenly spaced rows enter the window).
    for (let i = 0; i < 200; i++) await client.predict(validPatient({ alanineAminotransferase: 4000 + i }));
    await client.predictBatch(
      Array.from({ length: 100 }, (_, i) =>
        validPatient({ alanineAminotransferase: 5000 + i, age: 20 + (i % 60) }),
      ),
      { omitFeedbackTokens: true },
    );
    const after = (await client.modelInfo()).inputDrift;
    expect(after?.windowRows).toBe(264);
    const alt = after?.features.find((f) => f.name === "alanine_aminotransferase");
    expect(alt?.drifted).toBe(true);
    expect(alt?.psi).toBeGreaterThan(0.25);
    expect(alt?.driftingSince).toBeInstanceOf(Date);
    const text = await metricsText(server.metricsPort);
    expect(text).toContain('liver_predict_input_drifted{feature="alanine_aminotransferase"} 1');
    expect(text).toContain("liver_predict_input_drift_window_rows 264");
    expect(text).toMatch(/liver_predict_input_drift_psi\{feature="age"\} \d/);
  });
});

describe("shutdown", () => {
  it("ends its version stream, goes NOT_SERVING and stops listening", async () => {
    const { fake, client, server } = await replicaServingV1();
    expect(fake.openStreams).toBe(1);
    await server.close(2_000);
    await waitUntil("the stream to end at the server", () => fake.openStreams === 0);
    expect(server.subscribed()).toBe(false);
    expect((await failure(client.predict(validPatient()))).code).toBe(status.UNAVAILABLE);
  });
});
