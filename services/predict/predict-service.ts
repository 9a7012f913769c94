import { status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { FeatureSpec } from "../gen/liver/v1/model.js";
import {
  type GetModelInfoResponse,
  ModelSource,
  type PredictRequest,
} from "../gen/liver/v1/predict_service.js";
import { CallGate } from "../shared/auth/call-gate.js";
import type { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import { FEATURES, FEATURE_COUNT, type FieldViolation } from "../shared/features/feature-schema.js";
import { invalidRequest, rpcFailure, type RpcFailure } from "../shared/grpc/rpc-failure.js";
import { type AccessTable, type CallContext, withMiddleware } from "../shared/grpc/rpc-middleware.js";
import { DEFAULT_SITE } from "../shared/sites/site-name.js";
import type { SiteResolver } from "../shared/sites/site-resolver.js";
import { BatchResponseWriter } from "./batch-response-writer.js";
import type { ModelHolder } from "./model-holder.js";
import { type DecodedPatientBatch, MAX_BATCH_PATIENTS } from "./patient-batch-decoder.js";
import { patientViolations, readPatientVector } from "./patient-reader.js";
import type { PredictMetrics } from "./predict-metrics.js";
import { type InputDriftMonitor, inputDriftMessage } from "./input-drift-monitor.js";
import type { PredictionTokenSigner } from "./prediction-token-signer.js";
import {
  type EncodedResponse,
  FAST_PREDICT_SERVICE_DEFINITION,
  type FastPredictServiceHandlers,
} from "./predict-wire-codec.js";
import type { ServingModel } from "./serving-model.js";

/** What each PredictService method asks of its caller (rpc-middleware.ts enforces it). */
export const PREDICT_ACCESS: AccessTable<FastPredictServiceHandlers> = {
  predict: "clinician",
  predictBatch: "clinician",
  getModelInfo: "open",
};

/** What the handlers need; passed in so tests can build the class without a server. */
export interface PredictServiceDeps {
  readonly holder: ModelHolder;
  /** Signs the feedback token of every answer (the shared token format). */
  readonly signer: PredictionTokenSigner;
  readonly metrics: PredictMetrics;
  readonly logger: Logger;
  /** Whether the version stream currently delivers events (GetModelInfo.subscribed). */
  readonly isSubscribed: () => boolean;
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

  /** Writes the answers of both Predict (a batch of one) and PredictBatch. */
  private readonly batchWriter: BatchResponseWriter;

  constructor(private readonly deps: PredictServiceDeps) {
    this.batchWriter = new BatchResponseWriter(deps.signer);
  }

  /** The grpc-js implementation of FAST_PREDICT_SERVICE_DEFINITION, behind the middleware. */
  implementation(): UntypedServiceImplementation {
    const { predict, predictBatch, getModelInfo } = this;
    return withMiddleware<FastPredictServiceHandlers>(
      FAST_PREDICT_SERVICE_DEFINITION,
      PREDICT_ACCESS,
      { predict, predictBatch, getModelInfo },
      { gate: new CallGate(this.deps.auth), metrics: this.deps.metrics.rpc, logger: this.deps.logger },
    );
  }

  /** Scores one patient for the caller at the call's site (both signed into the feedback token). */
  predict = (request: PredictRequest, context: CallContext): EncodedResponse => {
    const site = this.siteOf(context);
    const model = this.model(site);
    const patient = request.patient;
    if (!readPatientVector(patient, this.single, 0)) throw invalidRequest(patientViolations(patient));
    const contents = { explanations: this.deps.explainPredictions !== false, feedbackTokens: true };
    const outcome = this.batchWriter.writeOne(
      model,
      this.single,
      Date.now(),
      contents,
      context.principal,
      site,
    );
    if (!outcome.ok) throw this.badScore(model);
    this.deps.drift?.observe(this.single, 0);
    this.deps.metrics.diagnosed(outcome.liverDisease, 1);
    return outcome.response;
  };

  /** Scores up to 10,000 patients in one answer, written straight to protobuf bytes. */
  predictBatch = (batch: DecodedPatientBatch, context: CallContext): EncodedResponse => {
    const site = this.siteOf(context);
    const model = this.model(site);
    const count = batch.count;
    if (count === 0 || count > MAX_BATCH_PATIENTS) {
      const description =
        count === 0
          ? "patients is empty; send 1 to 10,000 patients"
          : `patients has ${count} entries; at most 10,000 are accepted per call, split the batch`;
      throw invalidRequest([{ field: "patients", description }]);
    }
    const vectors = this.scratch(count);
    let violations: FieldViolation[] | undefined;
    for (let i = 0; i < count; i++) {
      if (!batch.readVector(i, vectors, i * FEATURE_COUNT)) {
        violations ??= [];
        violations.push(...batch.violations(i, `patients[${i}].`));
      }
    }
    if (violations !== undefined) throw invalidRequest(violations);
    const outcome = this.batchWriter.write(
      model,
      vectors,
      count,
      Date.now(),
      { explanations: batch.includeExplanations, feedbackTokens: !batch.omitFeedbackTokens },
      context.principal,
      site,
    );
    if (!outcome.ok) throw this.badScore(model);
    this.deps.drift?.observeBatch(vectors, count);
    this.deps.metrics.diagnosed(outcome.liverDisease, count);
    return outcome.response;
  };

  /** The call's site (a SiteRefusal when it cannot be settled); the default site without a resolver. */
  private siteOf({ call, caller }: CallContext): string {
    return this.deps.sites?.resolve(call.getPeer(), call.metadata, caller) ?? DEFAULT_SITE;
  }

  /** The serving model at `site`, or UNAVAILABLE before the first one is in. */
  private model(site: string): ServingModel {
    const current = this.deps.holder.current;
    if (current === undefined) throw this.unavailable();
    return current.atSite?.(site) ?? current;
  }

  /** The serving model, the schema and the replica's state; open to every caller. */
  getModelInfo = (): GetModelInfoResponse => {
    const model = this.deps.holder.current;
    const failure = this.deps.holder.lastFailure;
    return {
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
    };
  };

  private scratch(count: number): Float64Array {
    const needed = count * FEATURE_COUNT;
    if (this.vectors.length < needed) this.vectors = new Float64Array(needed);
    return this.vectors;
  }

  private unavailable(): RpcFailure {
    return rpcFailure(
      status.UNAVAILABLE,
      "no model loaded yet: this replica has not received one from RetrainService " +
        "and has no cached or bundled artifact; it keeps trying (see GetModelInfo and grpc.health.v1), retry shortly",
    );
  }

  private badScore(model: ServingModel): RpcFailure {
    this.deps.logger.error({ modelVersion: model.version }, "model produced a probability outside [0, 1]");
    return rpcFailure(
      status.INTERNAL,
      `model ${model.version} produced an invalid probability for valid input; no answer was given`,
    );
  }
}
