import type { UntypedServiceImplementation, handleUnaryCall } from "@grpc/grpc-js";
import {
  type GetModelInfoRequest,
  type GetModelInfoResponse,
  type PredictRequest,
  PredictServiceService,
} from "../gen/liver/v1/predict_service.js";
import { type DecodedPatientBatch, decodePatientBatch } from "./patient-batch-decoder.js";
import { type PredictAnswer, encodePredictResponse } from "./predict-response-encoder.js";

/**
 * A PredictBatchResponse already in wire form (BatchResponseWriter makes it): the tokens and
 * ids of a batch go from the signing buffer into these bytes without ever being JS strings.
 */
export class EncodedPredictBatchResponse {
  constructor(readonly bytes: Buffer) {}
}

/** The handlers of FAST_PREDICT_SERVICE_DEFINITION: PredictBatch answers pre-encoded bytes. */
export interface FastPredictServiceHandlers extends UntypedServiceImplementation {
  predict: handleUnaryCall<PredictRequest, PredictAnswer>;
  predictBatch: handleUnaryCall<DecodedPatientBatch, EncodedPredictBatchResponse>;
  getModelInfo: handleUnaryCall<GetModelInfoRequest, GetModelInfoResponse>;
}

/**
 * The liver.v1.PredictService definition this server registers: the generated one (same
 * paths, same GetModelInfo codecs), except that Predict's response (its explanation already
 * in wire form) is written by encodePredictResponse, and PredictBatch's request is decoded into typed arrays
 * (decodePatientBatch) and its response is BatchResponseWriter's bytes. Clients are
 * unaffected: it is the same wire format both ways.
 */
export const FAST_PREDICT_SERVICE_DEFINITION = {
  ...PredictServiceService,
  predict: {
    ...PredictServiceService.predict,
    responseSerialize: encodePredictResponse,
  },
  predictBatch: {
    ...PredictServiceService.predictBatch,
    requestDeserialize: decodePatientBatch,
    responseSerialize: (value: EncodedPredictBatchResponse): Buffer => value.bytes,
  },
} as const;
