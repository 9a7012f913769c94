import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { type Metadata, type sendUnaryData, type ServerUnaryCall, status } from "@grpc/grpc-js";
import { trace } from "@opentelemetry/api";
import type { Logger } from "pino";
import { ATTR_MODEL_VERSION } from "../shared/ops/tracing.js";
import { Diagnosis } from "../gen/liver/v1/patient.js";
import type {
  GRPCInferenceServiceServer,
  ModelInferRequest,
  ModelInferResponse,
  ModelMetadataRequest,
  ModelMetadataResponse,
  ModelReadyRequest,
  ModelReadyResponse,
  ServerLiveRequest,
  ServerLiveResponse,
  ServerMetadataRequest,
  ServerMetadataResponse,
  ServerReadyRequest,
  ServerReadyResponse,
} from "../gen/open_inference_grpc.js";
import { AuthError } from "../shared/auth/auth-error.js";
import { ANONYMOUS_PRINCIPAL } from "../shared/auth/caller.js";
import type { CallerAuthenticator } from "../shared/auth/caller-authenticator.js";
import {
  FEATURES,
  FEATURE_COUNT,
  type FieldViolation,
  describeRange,
} from "../shared/features/feature-schema.js";
import { findProtoRoot } from "../shared/grpc/contract-descriptor.js";
import { grpcError, invalidArgument, type GrpcStatusError } from "../shared/grpc/grpc-errors.js";
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
import type { PredictMethod, PredictMetrics } from "./predict-metrics.js";
import type { PredictionTokenSigner } from "./prediction-token-signer.js";
import type { ServingModel } from "./serving-model.js";

/** Fully qualified name, as grpc.health.v1 and reflection know the service. */
export const OPEN_INFERENCE_SERVICE_NAME = "inference.GRPCInferenceService";

/** ServerMetadata's name. */
export const OIP_SERVER_NAME = "liver-mesh";

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
  /** Where models come from, for the UNAVAILABLE message. */
  readonly retrainAddr: string;
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

  /** The handlers, as GRPCInferenceServiceService registers them. */
  implementation(): GRPCInferenceServiceServer {
    return {
      serverLive: this.serverLive,
      serverReady: this.serverReady,
      modelReady: this.modelReady,
      serverMetadata: this.serverMetadata,
      modelMetadata: this.modelMetadata,
      modelInfer: this.modelInfer,
    };
  }

  serverLive = (
    _call: ServerUnaryCall<ServerLiveRequest, ServerLiveResponse>,
    callback: sendUnaryData<ServerLiveResponse>,
  ): void => {
    this.deps.metrics.countRequest("ServerLive", "OK");
    callback(null, { live: true });
  };

  serverReady = (
    _call: ServerUnaryCall<ServerReadyRequest, ServerReadyResponse>,
    callback: sendUnaryData<ServerReadyResponse>,
  ): void => {
    this.deps.metrics.countRequest("ServerReady", "OK");
    callback(null, { ready: this.ready() });
  };

  modelReady = (
    call: ServerUnaryCall<ModelReadyRequest, ModelReadyResponse>,
    callback: sendUnaryData<ModelReadyResponse>,
  ): void => {
    const { name, version } = call.request;
    const unknown = this.checkModelName("ModelReady", name, version);
    if (unknown !== undefined) return this.fail("ModelReady", callback, unknown);
    const current = this.deps.holder.current;
    const loaded =
      version === "" || version === current?.version
        ? current !== undefined
        : this.deps.library.cached(version) !== undefined;
    this.deps.metrics.countRequest("ModelReady", "OK");
    callback(null, { ready: this.ready() && loaded });
  };

  serverMetadata = (
    _call: ServerUnaryCall<ServerMetadataRequest, ServerMetadataResponse>,
    callback: sendUnaryData<ServerMetadataResponse>,
  ): void => {
    this.deps.metrics.countRequest("ServerMetadata", "OK");
    callback(null, { name: OIP_SERVER_NAME, version: packageVersion(), extensions: [] });
  };

  modelMetadata = (
    call: ServerUnaryCall<ModelMetadataRequest, ModelMetadataResponse>,
    callback: sendUnaryData<ModelMetadataResponse>,
  ): void => {
    const { name, version } = call.request;
    const unknown = this.checkModelName("ModelMetadata", name, version);
    if (unknown !== undefined) return this.fail("ModelMetadata", callback, unknown);
    this.deps.library.servable().then(
      (versions) => {
        if (version !== "" && !versions.some((v) => v.version === version)) {
          return this.fail("ModelMetadata", callback, notFound(OIP_MODEL_NAME, version, versions));
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
        this.deps.metrics.countRequest("ModelMetadata", "OK");
        callback(null, {
          name: OIP_MODEL_NAME,
          versions: versions.map((v) => v.version),
          platform: "liver-mesh_logistic_regression",
          inputs: INPUT_METADATA.map((t) => ({ ...t, shape: [...t.shape] })),
          outputs: OUTPUT_METADATA.map((t) => ({ ...t, shape: [...t.shape] })),
          properties,
        });
      },
      (error: unknown) => this.fail("ModelMetadata", callback, this.asStatus(error, "ModelMetadata")),
    );
  };

  modelInfer = (
    call: ServerUnaryCall<ModelInferRequest, ModelInferResponse>,
    callback: sendUnaryData<ModelInferResponse>,
  ): void => {
    const auth = this.deps.auth;
    if (auth === undefined) {
      this.inferFor(call.request, ANONYMOUS_PRINCIPAL, callback);
      return;
    }
    this.asCaller(auth, call.metadata, callback, (principal) =>
      this.inferFor(call.request, principal, callback),
    );
  };

  private inferFor(
    request: ModelInferRequest,
    principal: string,
    callback: sendUnaryData<ModelInferResponse>,
  ): void {
    const unknown = this.checkModelName("ModelInfer", request.modelName, request.modelVersion);
    if (unknown !== undefined) return this.fail("ModelInfer", callback, unknown);
    const current = this.deps.holder.current;
    const version = request.modelVersion;
    if (version === "" || version === current?.version) {
      if (current === undefined) return this.fail("ModelInfer", callback, this.unavailable());
      this.inferWith(current, true, request, principal, callback);
      return;
    }
    const cached = this.deps.library.cached(version);
    if (cached !== undefined) {
      this.inferWith(cached, false, request, principal, callback);
      return;
    }
    this.deps.library.get(version, OIP_MODEL_NAME).then(
      (model) => this.inferWith(model, false, request, principal, callback),
      (error: unknown) => this.fail("ModelInfer", callback, this.asStatus(error, "ModelInfer")),
    );
  }

  /** Decodes, scores and answers synchronously (the scratch buffers are this class's). */
  private inferWith(
    model: ServingModel,
    serving: boolean,
    request: ModelInferRequest,
    principal: string,
    callback: sendUnaryData<ModelInferResponse>,
  ): void {
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
    if (violations.length > 0 || !decoded.ok)
      return this.fail("ModelInfer", callback, invalidArgument(violations));
    trace.getActiveSpan()?.setAttribute(ATTR_MODEL_VERSION, model.version);
    const { count, vectors } = decoded;
    const { probabilities, liverDisease } = this;
    let positives = 0;
    for (let row = 0; row < count; row++) {
      const p = model.score(vectors, row * FEATURE_COUNT);
      if (!(p >= 0 && p <= 1)) return this.fail("ModelInfer", callback, this.badScore(model));
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
    callback(null, {
      modelName: OIP_MODEL_NAME,
      modelVersion: model.version,
      id: request.id,
      parameters: {},
      outputs,
      rawOutputContents,
    });
    if (serving) this.deps.drift?.observeBatch(vectors, count);
    const { metrics } = this.deps;
    metrics.liverDisease.inc(positives);
    metrics.noLiverDisease.inc(count - positives);
    metrics.countRequest("ModelInfer", "OK");
  }

  /** Readiness as grpc.health.v1 reports it, and a model in. */
  private ready(): boolean {
    return this.deps.isServing() && this.deps.holder.current !== undefined;
  }

  /** NOT_FOUND for another model's name, INVALID_ARGUMENT for a malformed request. */
  private checkModelName(method: string, name: string, version: string): GrpcStatusError | undefined {
    if (name === "") {
      return invalidArgument([
        {
          field: "name",
          description: `${method}: the model name is required; this server serves ${OIP_MODEL_NAME}`,
        },
      ]);
    }
    if (name !== OIP_MODEL_NAME) {
      return grpcError(
        status.NOT_FOUND,
        `model ${JSON.stringify(name.slice(0, 64))} is not served here; this server serves ${OIP_MODEL_NAME}`,
      );
    }
    if (version !== "" && !VERSION_NAME.test(version)) {
      return invalidArgument([
        {
          field: "version",
          description: `model version ${JSON.stringify(version.slice(0, 64))} is not a version name; versions are v1, v2, ... (ModelMetadata lists them), or empty for the serving one`,
        },
      ]);
    }
    return undefined;
  }

  /** Runs `handle` for the caller once its token is verified and holds the clinician role. */
  private asCaller<T>(
    auth: CallerAuthenticator,
    metadata: Metadata,
    callback: sendUnaryData<T>,
    handle: (principal: string) => void,
  ): void {
    const refuse = (error: unknown): void =>
      this.fail("ModelInfer", callback, this.asStatus(error, "ModelInfer"));
    try {
      const caller = auth.authenticate(metadata, "ModelInfer", "clinician");
      if (caller instanceof Promise) caller.then((c) => handle(c.principal), refuse);
      else handle(caller.principal);
    } catch (error) {
      refuse(error);
    }
  }

  private asStatus(error: unknown, method: PredictMethod): GrpcStatusError {
    if (error instanceof AuthError) return error.toStatus();
    if (error instanceof ModelVersionError) return error.status;
    this.deps.logger.error({ err: error, method }, `${method} failed unexpectedly`);
    return grpcError(status.INTERNAL, `${method} failed on this replica; see its log`);
  }

  private scratch(count: number): Float64Array {
    if (this.vectors.length < count * FEATURE_COUNT) this.vectors = new Float64Array(count * FEATURE_COUNT);
    if (this.probabilities.length < count) {
      this.probabilities = new Float64Array(count);
      this.liverDisease = new Uint8Array(count);
    }
    return this.vectors;
  }

  private unavailable(): GrpcStatusError {
    return grpcError(
      status.UNAVAILABLE,
      `no model loaded yet: this replica has not received one from RetrainService at ${this.deps.retrainAddr}; retry shortly (ServerReady tells when)`,
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
