import { status } from "@grpc/grpc-js";
import type { Caller } from "../shared/auth/caller.js";
import type { PredictionRecord } from "../shared/feedback/prediction-record.js";
import { rpcFailure, type RpcFailure } from "../shared/grpc/rpc-failure.js";

/**
 * Whether `caller` may send feedback on `prediction`: only the principal the prediction was
 * made for, or an admin. Undefined when allowed, else the PERMISSION_DENIED to answer. A
 * caller of undefined means authentication is off on this service: nobody is checked. The
 * other principal's name is never put in the message.
 */
export function feedbackPrincipalRefusal(
  prediction: PredictionRecord,
  caller: Caller | undefined,
): RpcFailure | undefined {
  if (caller === undefined || caller.admin || prediction.principal === caller.principal) return undefined;
  return rpcFailure(
    status.PERMISSION_DENIED,
    prediction.principal === ""
      ? "feedback_token belongs to a prediction made without a signed-in caller; only an admin may send feedback on it"
      : "feedback_token belongs to a prediction made for another principal; only the clinician who received the prediction (or an admin) may send feedback on it",
  );
}
