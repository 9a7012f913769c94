/**
 * Field checks of the RetrainService requests. Every problem names its field and what is
 * accepted, so a caller can fix the request without reading the proto.
 */
import { FeedbackVerdict } from "../gen/liver/v1/retrain_service.js";
import type { FieldViolation } from "../shared/features/feature-schema.js";
import { MAX_TOKEN_LENGTH } from "../shared/feedback/feedback-token.js";
import { VERSION_NAME_PATTERN } from "./store/model-registry.js";
import type { StoredVerdict } from "./store/feedback-store.js";

/** Longest free-text reason accepted by TriggerRetrain and RollbackModel. */
export const MAX_REASON_LENGTH = 200;
/** Longest version name accepted before the pattern is even tried. */
export const MAX_VERSION_LENGTH = 64;

const VERDICTS = "FEEDBACK_VERDICT_CORRECT (1), FEEDBACK_VERDICT_WRONG (2) or FEEDBACK_VERDICT_UNKNOWN (3)";

/** The verdict as stored, or the problem with it. */
export function checkVerdict(verdict: FeedbackVerdict): StoredVerdict | FieldViolation {
  switch (verdict) {
    case FeedbackVerdict.FEEDBACK_VERDICT_CORRECT:
      return 1;
    case FeedbackVerdict.FEEDBACK_VERDICT_WRONG:
      return 2;
    case FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN:
      return 3;
    case FeedbackVerdict.FEEDBACK_VERDICT_UNSPECIFIED:
      return { field: "verdict", description: `verdict is required; expected ${VERDICTS}` };
    default:
      return {
        field: "verdict",
        description: `verdict has unknown enum value ${String(verdict)}; expected ${VERDICTS}`,
      };
  }
}

/** Problems with the token's presence and length (its content is the signer's business). */
export function checkFeedbackToken(token: string): FieldViolation[] {
  if (token === "") {
    return [
      {
        field: "feedback_token",
        description: "feedback_token is required: pass the feedback_token of a PredictResponse unchanged",
      },
    ];
  }
  if (token.length > MAX_TOKEN_LENGTH) {
    return [
      {
        field: "feedback_token",
        description: `feedback_token is ${token.length} characters; at most ${MAX_TOKEN_LENGTH} are accepted`,
      },
    ];
  }
  return [];
}

/** Problems with a version name; `required` false lets the empty string pass. */
export function checkVersionName(field: string, value: string, required: boolean): FieldViolation[] {
  if (value === "") {
    return required ? [{ field, description: `${field} is required, for example "v3"` }] : [];
  }
  if (value.length > MAX_VERSION_LENGTH) {
    return [
      {
        field,
        description: `${field} is ${value.length} characters; version names are at most ${MAX_VERSION_LENGTH}`,
      },
    ];
  }
  if (!VERSION_NAME_PATTERN.test(value)) {
    return [
      {
        field,
        description: `${field} "${value}" is not a version name; expected "v" and a positive number, for example "v3"`,
      },
    ];
  }
  return [];
}

/** Problems with an optional free-text reason. */
export function checkReason(reason: string): FieldViolation[] {
  if (reason.length > MAX_REASON_LENGTH) {
    return [
      {
        field: "reason",
        description: `reason is ${reason.length} characters; at most ${MAX_REASON_LENGTH} are accepted`,
      },
    ];
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0008\u000b-\u001f\u007f]/.test(reason)) {
    return [{ field: "reason", description: "reason contains control characters; send plain text" }];
  }
  return [];
}

/** Type guard separating a violation from a checked value. */
export function isViolation(value: unknown): value is FieldViolation {
  return typeof value === "object" && value !== null && "field" in value && "description" in value;
}
