import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { status, type UntypedServiceImplementation } from "@grpc/grpc-js";
import { context, trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { ATTR_MODEL_VERSION } from "../shared/ops/tracing.js";
import { Diagnosis } from "../gen/liver/v1/patient.js";
import {
  type GRPCInferenceServiceServer,
  GRPCInferenceServiceService,
  type ModelInferRequest,
  type ModelInferResponse,
  type ModelMetadataRequest,
  type ModelMetadataResponse,
  type ModelReadyRequest,
  type ModelReadyResponse,
  type ServerLiveResponse,
  type ServerMetadataResponse,
  type ServerReadyResponse,
} from "../gen/open_inference_grpc.js";
import { CallGate } from "../shared/auth/call-gate.js";
import type { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import {
  FEATURES,
  FEATURE_COUNT,
  type FieldViolation,
  describeRange,
} from "../shared/features/feature-schema.js";
import { findProtoRoot } from "../shared/grpc/contract-descriptor.js";
import { invalidRequest, rpcFailure, type RpcFailure } from "../shared/grpc/rpc-failure.js";
import { type AccessTable, type CallContext, withMiddleware } from "../shared/grpc/rpc-middleware.js";
import type { InputDriftMonitor } from "./input-drift-monitor.js";
import type { ModelHolder } from "./model-holder.js";
import { ModelVersionError, type ModelVersionLibrary, notFound } from "./model-version-library.js";
import {
  DIAGNOSIS_LABELS,
  INPUT_METADATA,
  OIP_MODEL_NAME,
  OUTPUT_FEEDBACK_TOKEN,
  OUTPUT_METADATA,
  type InferAnswers,
  decodeInferInputs,
  encodeInferOutputs,
  producedOutputs,
  readInferOptions,
} from "./open-inference-tensors.js";
import type { PredictMetrics } from "./predict-metrics.js";
import type { PredictionTokenSigner } from "./prediction-token-signer.js";
import type { ServingModel } from "./serving-model.js";

/** Fully qualified name, as grpc.health.v1 and reflection know the service. */
export const OPEN_INFERENCE_SERVICE_NAME = "inference.GRPCInferenceService";

/** ServerMetadata's name. */
export const OIP_SERVER_NAME = "liver-mesh";

/** What each Open Inference method asks of its caller: ModelInfer signs in as Predict does. */
export const OPEN_INFERENCE_ACCESS: AccessTable<GRPCInferenceServiceServer> = {
  serverLive: "open",
  serverReady: "open",
  modelReady: "open",
  serverMetadata: "open",
  modelMetadata: "open",
  modelInfer: "clinician",
};

/** Version names as the registry writes them ("v1", "v2", ...). */
const VERSION_NAME = /^v[1-9][0-9]{0,8}$/;

/** What the handlers need; passed in so tests can build the class without a server. */
export interface OpenInferenceServiceDeps {
  readonly holder: ModelHolder;
  readonly signer: PredictionTokenSigner;
  readonly metrics: PredictMetrics;
  readonly logger: Logger;
  /** Older versions named by callers. */
  readonly library: ModelVersionLibrary;
  /** The replica's readiness as grpc.health.v1 reports it. */
  readonly isServing: () => boolean;
  /** Checks callers' access tokens (clinician role); undefined when authentication is off. */
  readonly auth?: CallerAuthenticator | undefined;
  readonly drift?: InputDriftMonitor | undefined;
}

let serverVersion: string | undefined;

/** The package's version, read once from the package.json beside proto/. */
function packageVersion(): string {
  if (serverVersion === undefined) {
    try {
      const file = path.join(path.dirname(findProtoRoot()), "package.json");
      const parsed = JSON.parse(readFileSync(file, "utf8")) as { version?: unknown };
      serverVersion = typeof parsed.version === "string" ? parsed.version : "";
    } catch {
      serverVersion = "";
    }
  }
  return serverVersion;
}

/**
 * inference.GRPCInferenceService, the Open Inference Protocol (KServe V2), on PredictService's
 * server: the same model, the same validation, the same signed feedback tokens and the same
 * sign-in (ModelInfer needs the clinician role, as Predict does), in the tabular convention
 * of open-inference-tensors.ts. An empty model_version means the version this replica
 * serves; a named one comes from the registry through ModelVersionLibrary.
 */
export class OpenInferenceService {
  private vectors = new Float64Array(FEATURE_COUNT * 1_024);
  private probabilities = new Float64Array(1_024);
  private liverDisease = new Uint8Array(1_024);

  constructor(private readonly deps: OpenInferenceServiceDeps) {}

  /** The grpc-js implementation of GRPCInferenceServiceService, behind the middleware. */
  implementation(): UntypedServiceImplementation {
    const { serverLive, serverReady, modelReady, serverMetadata, modelMetadata, modelInfer } = this;
    return withMiddleware<GRPCInferenceServiceServer>(
      GRPCInferenceServiceService,
      OPEN_INFERENCE_ACCESS,
      { serverLive, serverReady, modelReady, serverMetadata, modelMetadata, modelInfer },
      { gate: new CallGate(this.deps.auth), metrics: this.deps.metrics.rpc, logger: this.deps.logger },
    );
  }

  serverLive = (): ServerLiveResponse => ({ live: true });

  serverReady = (): ServerReadyResponse => ({ ready: this.ready() });

  modelReady = ({ name, version }: ModelReadyRequest): ModelReadyResponse => {
    checkModelName("ModelReady", name, version);
    const current = this.deps.holder.current;
    const loaded =
      version === "" || version === current?.version
        ? current !== undefined
        : this.deps.library.cached(version) !== undefined;
    return { ready: this.ready() && loaded };
  };

  serverMetadata = (): ServerMetadataResponse => ({
    name: OIP_SERVER_NAME,
    version: packageVersion(),
    extensions: [],
  });

  modelMetadata = async ({ name, version }: ModelMetadataRequest): Promise<ModelMetadataResponse> => {
    checkModelName("ModelMetadata", name, version);
    const versions = await this.deps.library.servable();
    if (version !== "" && !versions.some((v) => v.version === version)) {
      throw new ModelVersionError(notFound(OIP_MODEL_NAME, version, versions));
    }
    const current = this.deps.holder.current;
    const properties: Record<string, string> = {
      serving_version: current?.version ?? "",
      diagnosis_values: `${DIAGNOSIS_LABELS.liverDisease},${DIAGNOSIS_LABELS.noLiverDisease}`,
      gender_values: "male,female (BYTES) or 1,2 (INT32, liver.v1.Gender)",
      parameters: "omit_feedback_tokens (bool), explain (bool)",
    };
    if (current !== undefined) properties["threshold"] = String(current.threshold);
    for (const spec of FEATURES) {
      properties[`input.${spec.name}`] =
        spec.kind === "gender" ? spec.label : `${spec.label}, ${describeRange(spec)}`;
    }
    return {
      name: OIP_MODEL_NAME,
      versions: versions.map((v) => v.version),
      platform: "liver-mesh_logistic_regression",
      inputs: INPUT_METADATA.map((t) => ({ ...t, shape: [...t.shape] })),
      outputs: OUTPUT_METADATA.map((t) => ({ ...t, shape: [...t.shape] })),
      properties,
    };
  };

  /** Scores with the serving version, or a named one (loaded from the registry when not cached). */
  modelInfer = (
    request: ModelInferRequest,
    { principal }: CallContext,
  ): ModelInferResponse | Promise<ModelInferResponse> => {
    checkModelName("ModelInfer", request.modelName, request.modelVersion);
    const current = this.deps.holder.current;
    const version = request.modelVersion;
    if (version === "" || version === current?.version) {
      if (current === undefined) throw this.unavailable();
      return this.inferWith(current, true, request, principal);
    }
    const cached = this.deps.library.cached(version);
    if (cached !== undefined) return this.inferWith(cached, false, request, principal);
    // Predict's context manager is synchronous (README, Tracing): the answer after the fetch
    // runs outside the call's span unless the continuation is bound to it.
    return this.deps.library
      .get(version, OIP_MODEL_NAME)
      .then(
        context.bind(context.active(), (model: ServingModel) =>
          this.inferWith(model, false, request, principal),
        ),
      );
  };

  /** Decodes, scores and answers synchronously (the scratch buffers are this class's). */
  private inferWith(
    model: ServingModel,
    serving: boolean,
    request: ModelInferRequest,
    principal: string,
  ): ModelInferResponse {
    const violations: FieldViolation[] = [];
    const options = readInferOptions(request.parameters, violations);
    const decoded = decodeInferInputs(request, (count) => this.scratch(count));
    if (!decoded.ok) violations.push(...decoded.violations);
    const produced = producedOutputs(options);
    let names = produced;
    if (request.outputs.length > 0) {
      names = [];
      request.outputs.forEach((output, index) => {
        if (produced.includes(output.name)) names.push(output.name);
        else
          violations.push({
            field: `outputs[${index}].name`,
            description: `output ${JSON.stringify(output.name.slice(0, 64))} is not produced by this request; it can ask for ${produced.join(", ")} (feedback_token unless omit_feedback_tokens, contribution_<input> with explain)`,
          });
      });
    }
    if (violations.length > 0 || !decoded.ok) throw invalidRequest(violations);
    trace.getActiveSpan()?.setAttribute(ATTR_MODEL_VERSION, model.version);
    const { count, vectors } = decoded;
    const { probabilities, liverDisease } = this;
    let positives = 0;
    for (let row = 0; row < count; row++) {
      const p = model.score(vectors, row * FEATURE_COUNT);
      if (!(p >= 0 && p <= 1)) throw this.badScore(model);
      probabilities[row] = p;
      const flag = p >= model.threshold ? 1 : 0;
      liverDisease[row] = flag;
      positives += flag;
    }
    let feedbackTokens: string[] | undefined;
    if (options.feedbackTokens && names.includes(OUTPUT_FEEDBACK_TOKEN)) {
      const issuedAt = Date.now();
      feedbackTokens = new Array<string>(count);
      for (let row = 0; row < count; row++) {
        feedbackTokens[row] = this.deps.signer.sign(
          randomUUID(),
          model.version,
          vectors,
          row * FEATURE_COUNT,
          probabilities[row] as number,
          liverDisease[row] === 1 ? Diagnosis.DIAGNOSIS_LIVER_DISEASE : Diagnosis.DIAGNOSIS_NO_LIVER_DISEASE,
          issuedAt,
          principal,
        );
      }
    }
    let contributions: Float64Array | undefined;
    if (options.explain) {
      contributions = new Float64Array(count * FEATURE_COUNT);
      for (let row = 0; row < count; row++) {
        const at = row * FEATURE_COUNT;
        model.explain(vectors, at, contributions.subarray(at, at + FEATURE_COUNT));
      }
    }
    const answers: InferAnswers = { count, probabilities, liverDisease, feedbackTokens, contributions };
    const { outputs, rawOutputContents } = encodeInferOutputs(answers, names, decoded.raw);
    if (serving) this.deps.drift?.observeBatch(vectors, count);
    this.deps.metrics.diagnosed(positives, count);
    return {
      modelName: OIP_MODEL_NAME,
      modelVersion: model.version,
      id: request.id,
      parameters: {},
      outputs,
      rawOutputContents,
    };
  }

  /** Readiness as grpc.health.v1 reports it, and a model in. */
  private ready(): boolean {
    return this.deps.isServing() && this.deps.holder.current !== undefined;
  }

  private scratch(count: number): Float64Array {
    if (this.vectors.length < count * FEATURE_COUNT) this.vectors = new Float64Array(count * FEATURE_COUNT);
    if (this.probabilities.length < count) {
      this.probabilities = new Float64Array(count);
      this.liverDisease = new Uint8Array(count);
    }
    return this.vectors;
  }

  private unavailable(): RpcFailure {
    return rpcFailure(
      status.UNAVAILABLE,
      "no model loaded yet: this replica has not received one from RetrainService; retry shortly (ServerReady tells when)",
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

/** NOT_FOUND for another model's name, INVALID_ARGUMENT for a malformed one (thrown). */
function checkModelName(method: string, name: string, version: string): void {
  if (name === "") {
    throw invalidRequest([
      {
        field: "name",
        description: `${method}: the model name is required; this server serves ${OIP_MODEL_NAME}`,
      },
    ]);
  }
  if (name !== OIP_MODEL_NAME) {
    throw rpcFailure(
      status.NOT_FOUND,
      `model ${JSON.stringify(name.slice(0, 64))} is not served here; this server serves ${OIP_MODEL_NAME}`,
    );
  }
  if (version !== "" && !VERSION_NAME.test(version)) {
    throw invalidRequest([
      {
        field: "version",
        description: `model version ${JSON.stringify(version.slice(0, 64))} is not a version name; versions are v1, v2, ... (ModelMetadata lists them), or empty for the serving one`,
      },
    ]);
  }
}
