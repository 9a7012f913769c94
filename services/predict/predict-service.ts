import { randomUUID } from "node:crypto";
import { status, type handleUnaryCall, type Metadata, type sendUnaryData } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { FeatureSpec } from "../gen/liver/v1/model.js";
import { Diagnosis } from "../gen/liver/v1/patient.js";
import {
  type GetModelInfoRequest,
  type GetModelInfoResponse,
  ModelSource,
  type PredictRequest,
} from "../gen/liver/v1/predict_service.js";
import { AuthError } from "../shared/auth/auth-error.js";
import { ANONYMOUS_PRINCIPAL, type Caller } from "../shared/auth/caller.js";
import type { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { FEATURES, FEATURE_COUNT, type FieldViolation } from "../shared/features/feature-schema.js";
import { checkPlausibility } from "../shared/features/plausibility-checks.js";
import { grpcError, invalidArgument, type GrpcStatusError } from "../shared/grpc/grpc-errors.js";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import { SiteRefusal, type SiteResolver } from "../shared/sites/site-resolver.js";
import { BatchResponseWriter } from "./batch-response-writer.js";
import type { ModelHolder } from "./model-holder.js";
import { type DecodedPatientBatch, MAX_BATCH_PATIENTS } from "./patient-batch-decoder.js";
import { patientViolations, readPatientVector } from "./patient-reader.js";
import type { PredictMethod, PredictMetrics } from "./predict-metrics.js";
import { type InputDriftMonitor, inputDriftMessage } from "./input-drift-monitor.js";
import { PredictionExplainer } from "./prediction-explainer.js";
import type { PredictionTokenSigner } from "./prediction-token-signer.js";
import type { PredictAnswer } from "./predict-response-encoder.js";
import type { EncodedPredictBatchResponse, FastPredictServiceHandlers } from "./predict-wire-codec.js";
import type { ServingModel } from "./serving-model.js";

/** What the handlers need; passed in so tests can build the class without a server. */
export interface PredictServiceDeps {
  readonly holder: ModelHolder;
  /** Signs the feedback token of every answer (the shared token format). */
  readonly signer: PredictionTokenSigner;
  readonly metrics: PredictMetrics;
  readonly logger: Logger;
  /** Whether the version stream currently delivers events (GetModelInfo.subscribed). */
  readonly isSubscribed: () => boolean;
  /** Where models come from, for the UNAVAILABLE message, e.g. "localhost:8080". */
  readonly retrainAddr: string;
  /** Checks callers' access tokens (clinician role); undefined when authentication is off. */
  readonly auth?: CallerAuthenticator | undefined;
  /** Whether Predict answers carry their explanation (EXPLAIN_PREDICTIONS; default true). */
  readonly explainPredictions?: boolean;
  /** The sliding window of scored inputs for drift; omitted in tests that do not need it. */
  readonly drift?: InputDriftMonitor;
  /** Decides each call's site (whose calibration answers); omitted: every call is the default site's. */
  readonly sites?: SiteResolver | undefined;
}

/** The schema as GetModelInfo returns it; built once, it never changes in a process. */
export const FEATURE_SPECS: readonly FeatureSpec[] = FEATURES.map((spec, position) =>
  spec.kind === "gender"
    ? FeatureSpec.fromPartial({
        name: spec.name,
        label: spec.label,
        unit: spec.unit,
        allowedValues: [...spec.allowedValues],
        position,
      })
    : FeatureSpec.fromPartial({
        name: spec.name,
        label: spec.label,
        unit: spec.unit,
        min: spec.min,
        max: spec.max,
        position,
      }),
);

/**
 * liver.v1.PredictService. Every answer is computed from one ServingModel read once per call,
 * so it is consistent even while a swap happens; every input is validated against the shared
 * schema; every answer carries a signed record of exactly what was answered.
 */
export class PredictService {
  /** Scratch rows for the feature vectors; handlers are synchronous, so one is enough. */
  private vectors = new Float64Array(FEATURE_COUNT * 1_024);
  /** Scratch row of a single Predict. */
  private readonly single = new Float64Array(FEATURE_COUNT);

  private readonly batchWriter: BatchResponseWriter;
  private readonly explainer = new PredictionExplainer();

  constructor(private readonly deps: PredictServiceDeps) {
    this.batchWriter = new BatchResponseWriter(deps.signer);
  }

  /** The handlers, as FAST_PREDICT_SERVICE_DEFINITION registers them. */
  implementation(): FastPredictServiceHandlers {
    return { predict: this.predict, predictBatch: this.predictBatch, getModelInfo: this.getModelInfo };
  }

  predict: handleUnaryCall<PredictRequest, PredictAnswer> = (call, callback) => {
    const auth = this.deps.auth;
    if (auth === undefined) {
      const site = this.siteOf("Predict", call.getPeer(), call.metadata, undefined, callback);
      if (site !== undefined) this.predictFor(call.request, ANONYMOUS_PRINCIPAL, site, callback);
      return;
    }
    this.asCaller(auth, "Predict", call.metadata, callback, (caller) => {
      const site = this.siteOf("Predict", call.getPeer(), call.metadata, caller, callback);
      if (site !== undefined) this.predictFor(call.request, caller.principal, site, callback);
    });
  };

  predictBatch: handleUnaryCall<DecodedPatientBatch, EncodedPredictBatchResponse> = (call, callback) => {
    const auth = this.deps.auth;
    if (auth === undefined) {
      const site = this.siteOf("PredictBatch", call.getPeer(), call.metadata, undefined, callback);
      if (site !== undefined) this.predictBatchFor(call.request, ANONYMOUS_PRINCIPAL, site, callback);
      return;
    }
    this.asCaller(auth, "PredictBatch", call.metadata, callback, (caller) => {
      const site = this.siteOf("PredictBatch", call.getPeer(), call.metadata, caller, callback);
      if (site !== undefined) this.predictBatchFor(call.request, caller.principal, site, callback);
    });
  };

  /** The call's site, or undefined after answering the refusal. */
  private siteOf<T>(
    method: PredictMethod,
    peer: string,
    metadata: Metadata,
    caller: Caller | undefined,
    callback: sendUnaryData<T>,
  ): string | undefined {
    const sites = this.deps.sites;
    if (sites === undefined) return DEFAULT_SITE;
    try {
      return sites.resolve(peer, metadata, caller);
    } catch (error) {
      if (error instanceof SiteRefusal) {
        this.fail(method, callback, error.status);
        return undefined;
      }
      throw error;
    }
  }

  /** Predict for the caller `principal` at `site` (both signed into the feedback token). */
  private predictFor(
    request: PredictRequest,
    principal: string,
    site: string,
    callback: sendUnaryData<PredictAnswer>,
  ): void {
    const started = performance.now();
    const { metrics } = this.deps;
    const current = this.deps.holder.current;
    if (current === undefined) return this.fail("Predict", callback, this.unavailable());
    const model = current.atSite?.(site) ?? current;
    const patient = request.patient;
    if (!readPatientVector(patient, this.single, 0)) {
      return this.fail("Predict", callback, invalidArgument(patientViolations(patient)));
    }
    const response = this.answer(model, this.single, 0, Date.now(), principal, site);
    if (response === undefined) return this.fail("Predict", callback, this.badScore(model));
    callback(null, response);
    this.deps.drift?.observe(this.single, 0);
    (response.diagnosis === Diagnosis.DIAGNOSIS_LIVER_DISEASE
      ? metrics.liverDisease
      : metrics.noLiverDisease
    ).inc();
    metrics.predictOk.inc();
    metrics.predictLatency.observe((performance.now() - started) / 1000);
  }

  /** PredictBatch for the caller `principal` at `site` (both signed into every feedback token). */
  private predictBatchFor(
    batch: DecodedPatientBatch,
    principal: string,
    site: string,
    callback: sendUnaryData<EncodedPredictBatchResponse>,
  ): void {
    const started = performance.now();
    const { metrics } = this.deps;
    const current = this.deps.holder.current;
    if (current === undefined) return this.fail("PredictBatch", callback, this.unavailable());
    const model = current.atSite?.(site) ?? current;
    const count = batch.count;
    if (count === 0 || count > MAX_BATCH_PATIENTS) {
      const description =
        count === 0
          ? "patients is empty; send 1 to 10,000 patients"
          : `patients has ${count} entries; at most 10,000 are accepted per call, split the batch`;
      return this.fail("PredictBatch", callback, invalidArgument([{ field: "patients", description }]));
    }
    const vectors = this.scratch(count);
    let violations: FieldViolation[] | undefined;
    for (let i = 0; i < count; i++) {
      if (!batch.readVector(i, vectors, i * FEATURE_COUNT)) {
        violations ??= [];
        violations.push(...batch.violations(i, `patients[${i}].`));
      }
    }
    if (violations !== undefined) return this.fail("PredictBatch", callback, invalidArgument(violations));
    const outcome = this.batchWriter.write(
      model,
      vectors,
      count,
      Date.now(),
      { explanations: batch.includeExplanations, feedbackTokens: !batch.omitFeedbackTokens },
      principal,
      site,
    );
    if (!outcome.ok) return this.fail("PredictBatch", callback, this.badScore(model));
    callback(null, outcome.response);
    this.deps.drift?.observeBatch(vectors, count);
    metrics.liverDisease.inc(outcome.liverDisease);
    metrics.noLiverDisease.inc(count - outcome.liverDisease);
    metrics.batchOk.inc();
    metrics.batchLatency.observe((performance.now() - started) / 1000);
  }

  getModelInfo: handleUnaryCall<GetModelInfoRequest, GetModelInfoResponse> = (_call, callback) => {
    const model = this.deps.holder.current;
    const failure = this.deps.holder.lastFailure;
    callback(null, {
      modelVersion: model?.version ?? "",
      metrics: model?.metrics,
      features: [...FEATURE_SPECS],
      trainedOnSyntheticData: model?.trainedOnSyntheticData ?? false,
      source: model?.source ?? ModelSource.MODEL_SOURCE_UNSPECIFIED,
      loadedAt: model?.loadedAt,
      lastFailedVersion: failure?.version ?? "",
      lastFailure: failure?.reason ?? "",
      backend: model?.backend ?? "",
      subscribed: this.deps.isSubscribed(),
      inputDrift: this.deps.drift === undefined ? undefined : inputDriftMessage(this.deps.drift.snapshot()),
    });
    this.deps.metrics.countRequest("GetModelInfo", "OK");
  };

  /**
   * Scores the vector at `offset` and signs the answer; undefined when the model produced a
   * probability outside [0, 1] (never answered: no made-up result leaves this replica).
   */
  private answer(
    model: ServingModel,
    vectors: Float64Array,
    offset: number,
    issuedAtMs: number,
    principal: string,
    site: string,
  ): PredictAnswer | undefined {
    const probability = model.score(vectors, offset);
    if (!(probability >= 0 && probability <= 1)) return undefined;
    const diagnosis =
      probability >= model.threshold
        ? Diagnosis.DIAGNOSIS_LIVER_DISEASE
        : Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE;
    const predictionId = randomUUID();
    const feedbackToken = this.deps.signer.sign(
      predictionId,
      model.version,
      vectors,
      offset,
      probability,
      diagnosis,
      issuedAtMs,
      principal,
      site,
    );
    return {
      probability,
      diagnosis,
      modelVersion: model.version,
      predictionId,
      feedbackToken,
      threshold: model.threshold,
      explanation:
        this.deps.explainPredictions === false ? undefined : this.explainer.encode(model, vectors, offset),
      warnings: checkPlausibility(vectors, offset).map((w) => ({
        fields: [...w.fields],
        message: w.message,
      })),
    };
  }

  /**
   * Runs `handle` for the caller of `method` once its token is verified and holds the
   * clinician role (synchronously when the token is cached), else answers the refusal.
   */
  private asCaller<T>(
    auth: CallerAuthenticator,
    method: PredictMethod,
    metadata: Metadata,
    callback: sendUnaryData<T>,
    handle: (caller: Caller) => void,
  ): void {
    const refuse = (error: unknown): void => {
      if (error instanceof AuthError) return this.fail(method, callback, error.toStatus());
      this.deps.logger.error({ err: error, method }, "authentication failed unexpectedly");
      this.fail(method, callback, grpcError(status.INTERNAL, `${method} could not check the caller's token`));
    };
    let caller: Caller | Promise<Caller>;
    try {
      caller = auth.authenticate(metadata, method, "clinician");
    } catch (error) {
      refuse(error);
      return;
    }
    if (caller instanceof Promise) {
      caller.then(handle, refuse).catch((error: unknown) => {
        this.deps.logger.error({ err: error, method }, `${method} failed after authentication`);
      });
    } else {
      handle(caller);
    }
  }

  private scratch(count: number): Float64Array {
    const needed = count * FEATURE_COUNT;
    if (this.vectors.length < needed) this.vectors = new Float64Array(needed);
    return this.vectors;
  }

  private unavailable(): GrpcStatusError {
    return grpcError(
      status.UNAVAILABLE,
      `no model loaded yet: this replica has not received one from RetrainService at ${this.deps.retrainAddr} ` +
        "and has no cached or bundled artifact; it keeps trying (see GetModelInfo and grpc.health.v1), retry shortly",
    );
  }

  private badScore(model: ServingModel): GrpcStatusError {
    this.deps.logger.error({ modelVersion: model.version }, "model produced a probability outside [0, 1]");
    return grpcError(
      status.INTERNAL,
      `model ${model.version} produced an invalid probability for valid input; no answer was given`,
    );
  }

  private fail<T>(method: PredictMethod, callback: sendUnaryData<T>, error: GrpcStatusError): void {
    this.deps.metrics.countRequest(method, status[error.code]);
    callback(error);
  }
}
