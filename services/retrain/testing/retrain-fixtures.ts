/**
 * Test fixtures shared by the RetrainService tests and the bench: temp folders, signed
 * feedback tokens and stored feedback for made-up predictions, and small datasets.
 */
import { randomBytes, randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { allocateDataset, type Dataset } from "../../shared/data/dataset.js";
import { Prng } from "../../shared/data/prng.js";
import { FEATURE_COUNT, FEATURES } from "../../shared/features/feature-schema.js";
import { FeedbackTokenSigner } from "../../shared/feedback/feedback-token.js";
import type { PredictionRecord } from "../../shared/feedback/prediction-record.js";
import type { GatePolicy } from "../quality-gate.js";
import { DEFAULT_TRUSTED_GATEWAY_ADDRESSES, parseTrustedAddresses } from "../feedback-attribution.js";
import type { RetrainConfig } from "../retrain-config.js";

/**
 * RetrainService settings (environment) under which every labelled feedback trains and
 * every candidate is promoted: for benches and tests that time or follow promotions, not
 * the gate. One sender on 127.0.0.1 would otherwise meet its own per-source limits.
 */
export const PROMOTE_EVERY_CANDIDATE_ENV: Readonly<Record<string, string>> = {
  GATE_AUC_TOLERANCE: "1",
  GATE_MAX_LOSS_VS_REFERENCE: "1",
  GATE_MAX_SLICE_CHANGE: "1",
  GATE_MIN_AUC: "0",
  FEEDBACK_SCREENING: "off",
  FEEDBACK_TRAINING_ROWS_PER_SOURCE: "0",
  FEEDBACK_PER_SOURCE_PER_HOUR: "0",
  // Not about approval: no candidate waits for an admin, however far it moves the answers.
  APPROVAL_MAX_CLASS_CHANGE: "1",
};

/** A gate that promotes every finite candidate: tests that are not about the gate use it. */
export const PERMISSIVE_GATE_POLICY: GatePolicy = {
  minRocAuc: 0,
  maxLossVsReference: 1,
  servingTolerance: 1,
  maxSliceChange: 1,
  minSliceRows: 1,
  // Not about approval: no candidate waits for an admin (approval tests set their own bound).
  approvalMaxClassChange: 1,
};
import type { NewFeedback } from "../store/feedback-store.js";
import { testServerTls } from "../../shared/testing/test-tls.js";

/** A fresh temp folder and its removal. */
export function tempDir(prefix = "retrain-"): { dir: string; remove: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Uniform numbers in (0, 1) from the shared seeded Prng, so fixtures are reproducible. */
export function seededRandom(seed: number): () => number {
  const prng = new Prng(seed);
  return () => prng.nextFloat();
}

/** A valid raw feature vector (schema order, model gender coding) drawn inside each range. */
export function randomFeatures(random: () => number = Math.random): Float64Array {
  const out = new Float64Array(FEATURE_COUNT);
  FEATURES.forEach((spec, i) => {
    if (spec.kind === "gender") out[i] = random() < 0.5 ? 1 : 0;
    else out[i] = Math.round((spec.min + random() * (spec.max - spec.min) * 0.2) * 10) / 10;
  });
  return out;
}

/** A small labelled dataset with a learnable signal (bilirubin drives the label). */
export function smallDataset(rows: number, seed = 7): Dataset {
  const random = seededRandom(seed);
  const dataset = allocateDataset(rows, "synthetic");
  for (let row = 0; row < rows; row++) {
    const features = randomFeatures(random);
    const sick = random() < 0.6;
    // total_bilirubin (index 2) higher for the sick class, with overlap.
    features[2] = Math.round((sick ? 1 + random() * 6 : 0.3 + random() * 2) * 10) / 10;
    dataset.features.set(features, row * FEATURE_COUNT);
    dataset.labels[row] = sick ? 1 : 0;
  }
  return dataset;
}

/** A prediction as PredictService would have made it. */
export function prediction(overrides: Partial<PredictionRecord> = {}): PredictionRecord {
  return {
    predictionId: randomUUID(),
    modelVersion: "v1",
    features: randomFeatures(),
    probability: 0.73,
    diagnosis: 1,
    issuedAtMs: Date.now(),
    principal: "",
    ...overrides,
  };
}

/** A feedback row as RetrainService stores it (a made-up prediction, labelled correct). */
export function newFeedback(overrides: Partial<NewFeedback> = {}): NewFeedback {
  return {
    feedbackId: randomUUID(),
    predictionId: randomUUID(),
    verdict: 1,
    label: 1,
    features: randomFeatures(),
    predictedDiagnosis: 1,
    probability: 0.8,
    modelVersion: "v1",
    issuedAtMs: 1_700_000_000_000,
    receivedAtMs: 1_700_000_001_000,
    peer: "127.0.0.1:50000",
    clientAddress: "",
    principal: "",
    source: "127.0.0.1",
    state: overrides.label === null ? "unlabelled" : "trained",
    stateReason: "",
    ...overrides,
  };
}

/** A signer with a fresh key, and the key. */
export function testSigner(): { key: Buffer; signer: FeedbackTokenSigner } {
  const key = randomBytes(32);
  return { key, signer: new FeedbackTokenSigner(key) };
}

/**
 * A configuration for an in-process server on 127.0.0.1:0 under `dir`; TLS-only with client
 * certificates required in the "tls" vitest project (services/shared/testing/test-tls.ts).
 */
export function testConfig(
  dir: string,
  key: Uint8Array,
  overrides: Partial<RetrainConfig> = {},
): RetrainConfig {
  return {
    host: "127.0.0.1",
    port: 0,
    metricsPort: 0,
    dataPath: path.join(dir, "data"),
    modelPath: path.join(dir, "models"),
    trainingCsv: undefined,
    adminToken: undefined,
    signingKey: key,
    heartbeatIntervalMs: 10_000,
    debounceMs: 0,
    minBatch: 1,
    gatePolicy: PERMISSIVE_GATE_POLICY,
    siteRecalibration: true,
    // Test rows are random; the tests that are about screening turn it on.
    feedbackScreening: false,
    trainingRowsPerSource: 0,
    shutdownGraceMs: 2_000,
    trustedGateways: parseTrustedAddresses(DEFAULT_TRUSTED_GATEWAY_ADDRESSES),
    feedbackPerSourcePerHour: 0,
    tls: testServerTls(),
    ...overrides,
  };
}
