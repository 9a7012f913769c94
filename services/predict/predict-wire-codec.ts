import type { UntypedServiceImplementation, handleUnaryCall } from "@grpc/grpc-js";
import {
  type GetModelInfoRequest,
  type GetModelInfoResponse,
  type PredictBatchRequest,
  type PredictRequest,
  type PredictResponse,
  PredictServiceService,
} from "../gen/liver/v1/predict_service.js";

/**
 * A PredictBatchResponse already in wire form (BatchResponseWriter makes it): the tokens and
 * ids of a batch go from the signing buffer into these bytes without ever being JS strings.
 */
export class EncodedPredictBatchResponse {
  constructor(readonly bytes: Buffer) {}
}

/** The handlers of FAST_PREDICT_SERVICE_DEFINITION: PredictBatch answers pre-encoded bytes. */
export interface FastPredictServiceHandlers extends UntypedServiceImplementation {
  predict: handleUnaryCall<PredictRequest, PredictResponse>;
  predictBatch: handleUnaryCall<PredictBatchRequest, EncodedPredictBatchResponse>;
  getModelInfo: handleUnaryCall<GetModelInfoRequest, GetModelInfoResponse>;
}

/**
 * The liver.v1.PredictService definition this server registers: the generated one (same
 * paths, same request codecs, same Predict and GetModelInfo codecs), except that
 * PredictBatch's response serializer passes BatchResponseWriter's bytes through.
 * Clients are unaffected: the bytes decode with the generated PredictBatchResponse codec.
 */
export const FAST_PREDICT_SERVICE_DEFINITION = {
  ...PredictServiceService,
  predictBatch: {
    ...PredictServiceService.predictBatch,
    responseSerialize: (value: EncodedPredictBatchResponse): Buffer => value.bytes,
  },
} as const;
