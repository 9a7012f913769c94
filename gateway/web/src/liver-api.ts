/**
 * The public liver.v1 methods as the page calls them. Paths and default deadlines come from
 * gateway/public-methods.ts, the same list Envoy's routes and the bridge are checked
 * against, so the page cannot call a method the gateways do not route.
 */
import { findPublicMethod } from "../../public-methods.js";
import type { PatientFeatures } from "./gen/liver/v1/patient.js";
import {
  GetModelInfoRequest,
  GetModelInfoResponse,
  PredictRequest,
  PredictResponse,
} from "./gen/liver/v1/predict_service.js";
import {
  ApproveModelVersionRequest,
  ApproveModelVersionResponse,
  type FeedbackVerdict,
  GetRetrainStatusRequest,
  GetRetrainStatusResponse,
  ListModelVersionsRequest,
  ListModelVersionsResponse,
  RejectModelVersionRequest,
  RejectModelVersionResponse,
  SubmitFeedbackRequest,
  SubmitFeedbackResponse,
  WatchModelVersionsRequest,
  WatchModelVersionsResponse,
} from "./gen/liver/v1/retrain_service.js";
import type { GrpcWebClient, MessageCodec, MethodDescriptor } from "./grpc-web-client.js";
import { newTraceparent } from "./trace-context.js";

/** A public method with the deadline the gateways give it (0 for streams: none). */
interface PublicDescriptor<Req, Res> extends MethodDescriptor<Req, Res> {
  readonly timeoutMs: number;
}

function publicMethod<Req, Res>(
  path: string,
  requestType: MessageCodec<Req>,
  responseType: MessageCodec<Res>,
): PublicDescriptor<Req, Res> {
  const entry = findPublicMethod(path);
  if (entry === undefined)
    throw new Error(`${path} is not in gateway/public-methods.ts; the gateways refuse it`);
  return { path, requestType, responseType, timeoutMs: entry.timeoutSeconds * 1000 };
}

/** Descriptors of every method the page uses. */
export const LIVER_METHODS = {
  predict: publicMethod("/liver.v1.PredictService/Predict", PredictRequest, PredictResponse),
  getModelInfo: publicMethod(
    "/liver.v1.PredictService/GetModelInfo",
    GetModelInfoRequest,
    GetModelInfoResponse,
  ),
  submitFeedback: publicMethod(
    "/liver.v1.RetrainService/SubmitFeedback",
    SubmitFeedbackRequest,
    SubmitFeedbackResponse,
  ),
  getRetrainStatus: publicMethod(
    "/liver.v1.RetrainService/GetRetrainStatus",
    GetRetrainStatusRequest,
    GetRetrainStatusResponse,
  ),
  listModelVersions: publicMethod(
    "/liver.v1.RetrainService/ListModelVersions",
    ListModelVersionsRequest,
    ListModelVersionsResponse,
  ),
  approveModelVersion: publicMethod(
    "/liver.v1.RetrainService/ApproveModelVersion",
    ApproveModelVersionRequest,
    ApproveModelVersionResponse,
  ),
  rejectModelVersion: publicMethod(
    "/liver.v1.RetrainService/RejectModelVersion",
    RejectModelVersionRequest,
    RejectModelVersionResponse,
  ),
  watchModelVersions: publicMethod(
    "/liver.v1.RetrainService/WatchModelVersions",
    WatchModelVersionsRequest,
    WatchModelVersionsResponse,
  ),
} as const;

/** Which backend a method reaches; the page reports outages per service. */
export type ServiceName = "predict" | "retrain";

/** Typed calls to the public API through one grpc-web client. */
export class LiverApi {
  /**
   * `startTrace` gives the traceparent of each call the page starts a trace for (Predict and
   * SubmitFeedback: the clinician's own actions; trace-context.ts).
   */
  constructor(
    private readonly client: GrpcWebClient,
    private readonly startTrace: () => string = newTraceparent,
  ) {}

  /** Scores one patient, in a trace of its own. */
  predict(patient: PatientFeatures, signal?: AbortSignal): Promise<PredictResponse> {
    return this.unary(LIVER_METHODS.predict, { patient }, signal, undefined, this.startTrace());
  }

  /** The serving model's version, metrics, feature schema and provenance. */
  getModelInfo(signal?: AbortSignal): Promise<GetModelInfoResponse> {
    return this.unary(LIVER_METHODS.getModelInfo, {}, signal);
  }

  /**
   * Sends the clinician's verdict on one prediction, in a trace of its own; `timeoutMs` may
   * shorten the gateway's deadline.
   */
  submitFeedback(
    feedbackToken: string,
    verdict: FeedbackVerdict,
    signal?: AbortSignal,
    timeoutMs?: number,
  ): Promise<SubmitFeedbackResponse> {
    const request = { feedbackToken, verdict };
    return this.unary(LIVER_METHODS.submitFeedback, request, signal, timeoutMs, this.startTrace());
  }

  /** The retrainer's state and progress. */
  getRetrainStatus(signal?: AbortSignal): Promise<GetRetrainStatusResponse> {
    return this.unary(LIVER_METHODS.getRetrainStatus, {}, signal);
  }

  /** Every model version, newest first. */
  listModelVersions(signal?: AbortSignal): Promise<ListModelVersionsResponse> {
    return this.unary(LIVER_METHODS.listModelVersions, {}, signal);
  }

  /** Admin: approve the candidate waiting for approval (needs a signed-in admin). */
  approveModelVersion(modelVersion: string, reason: string): Promise<ApproveModelVersionResponse> {
    return this.unary(LIVER_METHODS.approveModelVersion, { modelVersion, reason });
  }

  /** Admin: reject the candidate waiting for approval (needs a signed-in admin). */
  rejectModelVersion(modelVersion: string, reason: string): Promise<RejectModelVersionResponse> {
    return this.unary(LIVER_METHODS.rejectModelVersion, { modelVersion, reason });
  }

  /** Version events: the current version first, then promotions, rollbacks and heartbeats. */
  watchModelVersions(
    afterVersion: string,
    signal: AbortSignal,
  ): AsyncGenerator<WatchModelVersionsResponse, void> {
    return this.client.serverStream(LIVER_METHODS.watchModelVersions, { afterVersion }, { signal });
  }

  private unary<Req, Res>(
    method: PublicDescriptor<Req, Res>,
    request: Req,
    signal?: AbortSignal,
    shorterTimeoutMs?: number,
    traceparent?: string,
  ): Promise<Res> {
    const timeoutMs = Math.min(method.timeoutMs, shorterTimeoutMs ?? method.timeoutMs);
    return this.client.unary(method, request, {
      timeoutMs,
      ...(signal === undefined ? {} : { signal }),
      ...(traceparent === undefined ? {} : { metadata: { traceparent } }),
    });
  }
}
