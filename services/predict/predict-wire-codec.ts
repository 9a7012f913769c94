import type { UntypedServiceImplementation, handleUnaryCall } from "@grpc/grpc-js";
import {
  type GetModelInfoRequest,
  type GetModelInfoResponse,
  type PredictRequest,
  PredictServiceService,
} from "../gen/liver/v1/predict_service.js";
import { type DecodedPatientBatch, decodePatientBatch } from "./patient-batch-decoder.js";

/**
 * A PredictResponse or PredictBatchResponse already in wire form (BatchResponseWriter makes
 * it): the tokens and ids go from the signing buffer into these bytes without ever being JS strings.
 */
export class EncodedResponse {
  constructor(readonly bytes: Buffer) {}
}

const serializeEncoded = (value: EncodedResponse): Buffer => value.bytes;

/** The handlers of FAST_PREDICT_SERVICE_DEFINITION: Predict and PredictBatch answer pre-encoded bytes. */
export interface FastPredictServiceHandlers extends UntypedServiceImplementation {
  predict: handleUnaryCall<PredictRequest, EncodedResponse>;
  predictBatch: handleUnaryCall<DecodedPatientBatch, EncodedResponse>;
  getModelInfo: handleUnaryCall<GetModelInfoRequest, GetModelInfoResponse>;
}

/**
 * The liver.v1.PredictService definition this server registers: the generated one (same
 * paths, same GetModelInfo codecs), except that the responses of Predict and PredictBatch are
 * BatchResponseWriter's bytes, and PredictBatch's request is decoded into typed arrays
 * (decodePatientBatch). Clients are
 * unaffected: it is the same wire format both ways.
 */
export const FAST_PREDICT_SERVICE_DEFINITION = {
  ...PredictServiceService,
  predict: {
    ...PredictServiceService.predict,
    responseSerialize: serializeEncoded,
  },
  predictBatch: {
    ...PredictServiceService.predictBatch,
    requestDeserialize: decodePatientBatch,
    responseSerialize: serializeEncoded,
  },
} as const;
