/**
 * The contract's stable vocabularies: the strings the services have always sent (a run's
 * trigger and stage, a gate rule, a holdout scheme, an approval decision, a site
 * calibration method) mapped to the enums that now travel beside them, and a stored raw
 * feature vector as the typed PatientFeatures. The string fields stay for older clients;
 * every place that fills one fills its enum from here, so the two never disagree. Maps, not
 * object literals: a name such as "toString" must not find an inherited property.
 */
import {
  ApprovalDecision,
  GateRule,
  HoldoutScheme,
  SiteCalibrationMethod as SiteCalibrationMethodKind,
} from "../../gen/liver/v1/model.js";
import { Gender, type PatientFeatures } from "../../gen/liver/v1/patient.js";
import { RetrainStage, RetrainTrigger } from "../../gen/liver/v1/retrain_service.js";
import { FEATURE_COUNT, FEATURES, GENDER_CODE } from "../features/feature-schema.js";

const TRIGGERS: ReadonlyMap<string, RetrainTrigger> = new Map([
  ["feedback", RetrainTrigger.RETRAIN_TRIGGER_FEEDBACK],
  ["admin", RetrainTrigger.RETRAIN_TRIGGER_ADMIN],
  ["startup", RetrainTrigger.RETRAIN_TRIGGER_STARTUP],
  ["recovery", RetrainTrigger.RETRAIN_TRIGGER_RECOVERY],
]);

const STAGES: ReadonlyMap<string, RetrainStage> = new Map([
  ["starting", RetrainStage.RETRAIN_STAGE_STARTING],
  ["loading", RetrainStage.RETRAIN_STAGE_LOADING],
  ["training", RetrainStage.RETRAIN_STAGE_TRAINING],
  ["publishing", RetrainStage.RETRAIN_STAGE_PUBLISHING],
]);

const SCHEMES: ReadonlyMap<string, HoldoutScheme> = new Map([
  ["lab-profile-v1", HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1],
  ["row-v1", HoldoutScheme.HOLDOUT_SCHEME_ROW_V1],
]);

/** Whole rule names; slice and served-change rules carry their subject after a colon. */
const RULES: ReadonlyMap<string, GateRule> = new Map([
  ["finite", GateRule.GATE_RULE_FINITE],
  ["floor", GateRule.GATE_RULE_FLOOR],
  ["reference", GateRule.GATE_RULE_REFERENCE],
  ["serving", GateRule.GATE_RULE_SERVING],
  ["slice", GateRule.GATE_RULE_SLICE],
  ["served", GateRule.GATE_RULE_SERVED_CHANGE],
]);

const DECISIONS: ReadonlyMap<string, ApprovalDecision> = new Map([
  ["approved", ApprovalDecision.APPROVAL_DECISION_APPROVED],
  ["rejected", ApprovalDecision.APPROVAL_DECISION_REJECTED],
  ["superseded", ApprovalDecision.APPROVAL_DECISION_SUPERSEDED],
]);

const METHODS: ReadonlyMap<string, SiteCalibrationMethodKind> = new Map([
  ["keep", SiteCalibrationMethodKind.SITE_CALIBRATION_METHOD_KEEP],
  ["intercept", SiteCalibrationMethodKind.SITE_CALIBRATION_METHOD_INTERCEPT],
  ["intercept-and-slope", SiteCalibrationMethodKind.SITE_CALIBRATION_METHOD_INTERCEPT_AND_SLOPE],
]);

/** RetrainRun.trigger_kind for RetrainRun.trigger. */
export function retrainTriggerKind(trigger: string): RetrainTrigger {
  return TRIGGERS.get(trigger) ?? RetrainTrigger.RETRAIN_TRIGGER_UNSPECIFIED;
}

/** RetrainProgress.stage_kind for RetrainProgress.stage. */
export function retrainStageKind(stage: string): RetrainStage {
  return STAGES.get(stage) ?? RetrainStage.RETRAIN_STAGE_UNSPECIFIED;
}

/** ModelMetrics.holdout_scheme_kind for ModelMetrics.holdout_scheme. */
export function holdoutSchemeKind(scheme: string): HoldoutScheme {
  return SCHEMES.get(scheme) ?? HoldoutScheme.HOLDOUT_SCHEME_UNSPECIFIED;
}

/** GateCheck.rule_kind for GateCheck.rule ("slice:<name>" and "served:<site>:<slice>" by prefix). */
export function gateRuleKind(rule: string): GateRule {
  const colon = rule.indexOf(":");
  return RULES.get(colon < 0 ? rule : rule.slice(0, colon)) ?? GateRule.GATE_RULE_UNSPECIFIED;
}

/** ApprovalReview.decision_kind for ApprovalReview.decision ("" while undecided). */
export function approvalDecisionKind(decision: string): ApprovalDecision {
  return DECISIONS.get(decision) ?? ApprovalDecision.APPROVAL_DECISION_UNSPECIFIED;
}

/** SiteCalibrationReport.method_kind for SiteCalibrationReport.method. */
export function siteCalibrationMethodKind(method: string): SiteCalibrationMethodKind {
  return METHODS.get(method) ?? SiteCalibrationMethodKind.SITE_CALIBRATION_METHOD_UNSPECIFIED;
}

/**
 * A stored raw feature vector (the schema's order and gender coding, as
 * FeedbackRecord.features lists it) as the typed PatientFeatures. Undefined when the
 * vector does not have the schema's length.
 */
export function patientFromFeatureVector(raw: ArrayLike<number>): PatientFeatures | undefined {
  if (raw.length !== FEATURE_COUNT) return undefined;
  const patient: PatientFeatures = { gender: Gender.GENDER_UNSPECIFIED };
  FEATURES.forEach((spec, i) => {
    const value = raw[i] as number;
    if (spec.kind === "gender") {
      patient.gender =
        value === GENDER_CODE.male
          ? Gender.GENDER_MALE
          : value === GENDER_CODE.female
            ? Gender.GENDER_FEMALE
            : Gender.GENDER_UNSPECIFIED;
    } else {
      patient[spec.key] = value;
    }
  });
  return patient;
}
