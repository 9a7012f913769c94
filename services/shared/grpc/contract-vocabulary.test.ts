import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import {
  ApprovalDecision,
  GateRule,
  HoldoutScheme,
  SiteCalibrationMethod as SiteCalibrationMethodKind,
} from "../../gen/liver/v1/model.js";
import { Gender } from "../../gen/liver/v1/patient.js";
import { RetrainStage, RetrainTrigger } from "../../gen/liver/v1/retrain_service.js";
import type { ApprovalDecision as StoredDecision } from "../../retrain/store/model-registry.js";
import type { RunTrigger } from "../../retrain/store/run-log.js";
import { toFeatureVector } from "../features/feature-schema.js";
import { HOLDOUT_SCHEME, LEGACY_HOLDOUT_SCHEME } from "../model/holdout-split.js";
import type { SiteCalibrationMethod } from "../model/site-calibration.js";
import {
  approvalDecisionKind,
  gateRuleKind,
  holdoutSchemeKind,
  patientFromFeatureVector,
  retrainStageKind,
  retrainTriggerKind,
  siteCalibrationMethodKind,
} from "./contract-vocabulary.js";

const SERVICES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** Every production source file under services/ (no tests, test helpers or generated code). */
function productionSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "gen" && entry.name !== "testing" && entry.name !== "node_modules") walk(full);
      } else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
        files.push(readFileSync(full, "utf8"));
      }
    }
  };
  walk(SERVICES);
  return files;
}

/** The string literals the code assigns to `property` (a template's text before its first `${`). */
function literalsAssignedTo(property: string): Set<string> {
  const found = new Set<string>();
  const pattern = new RegExp(`\\b${property}: (?:"([^"]*)"|\`([^\`$]*))`, "g");
  for (const source of productionSources()) {
    for (const match of source.matchAll(pattern)) found.add(match[1] ?? match[2] ?? "");
  }
  return found;
}

/** Each enum's named values without UNSPECIFIED (0) and ts-proto's UNRECOGNIZED (-1). */
function namedValues(enumObject: Record<string, string | number>): number[] {
  return Object.values(enumObject).filter((v): v is number => typeof v === "number" && v > 0);
}

describe("the contract's vocabularies", () => {
  it("maps every run trigger to a RetrainTrigger, covering the enum", () => {
    const triggers: Record<RunTrigger, true> = { feedback: true, admin: true, startup: true, recovery: true };
    const kinds = Object.keys(triggers).map(retrainTriggerKind);
    expect(kinds).not.toContain(RetrainTrigger.RETRAIN_TRIGGER_UNSPECIFIED);
    expect(new Set(kinds)).toEqual(new Set(namedValues(RetrainTrigger)));
  });

  it("maps every stage the code reports to a RetrainStage, covering the enum", () => {
    const stages = literalsAssignedTo("stage");
    expect(stages).toContain("starting");
    expect(stages).toContain("training");
    for (const stage of stages)
      expect(retrainStageKind(stage), stage).not.toBe(RetrainStage.RETRAIN_STAGE_UNSPECIFIED);
    expect(new Set([...stages].map(retrainStageKind))).toEqual(new Set(namedValues(RetrainStage)));
  });

  it("maps every gate rule the code records to a GateRule, covering the enum", () => {
    const rules = literalsAssignedTo("rule");
    expect(rules).toContain("floor");
    expect(rules).toContain("slice:");
    for (const rule of rules) expect(gateRuleKind(rule), rule).not.toBe(GateRule.GATE_RULE_UNSPECIFIED);
    expect(new Set([...rules].map(gateRuleKind))).toEqual(new Set(namedValues(GateRule)));
    expect(gateRuleKind("slice:total_bilirubin>3")).toBe(GateRule.GATE_RULE_SLICE);
    expect(gateRuleKind("served:default:population")).toBe(GateRule.GATE_RULE_SERVED_CHANGE);
  });

  it("maps both holdout schemes, covering the enum", () => {
    const kinds = [HOLDOUT_SCHEME, LEGACY_HOLDOUT_SCHEME].map(holdoutSchemeKind);
    expect(kinds).toEqual([HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1, HoldoutScheme.HOLDOUT_SCHEME_ROW_V1]);
    expect(new Set(kinds)).toEqual(new Set(namedValues(HoldoutScheme)));
  });

  it("maps every approval decision, and undecided to UNSPECIFIED", () => {
    const decisions: Record<StoredDecision["decision"], true> = {
      approved: true,
      rejected: true,
      superseded: true,
    };
    const kinds = Object.keys(decisions).map(approvalDecisionKind);
    expect(kinds).not.toContain(ApprovalDecision.APPROVAL_DECISION_UNSPECIFIED);
    expect(new Set(kinds)).toEqual(new Set(namedValues(ApprovalDecision)));
    expect(approvalDecisionKind("")).toBe(ApprovalDecision.APPROVAL_DECISION_UNSPECIFIED);
  });

  it("maps every site calibration method, covering the enum", () => {
    const methods: Record<SiteCalibrationMethod, true> = {
      keep: true,
      intercept: true,
      "intercept-and-slope": true,
    };
    const kinds = Object.keys(methods).map(siteCalibrationMethodKind);
    expect(kinds).not.toContain(SiteCalibrationMethodKind.SITE_CALIBRATION_METHOD_UNSPECIFIED);
    expect(new Set(kinds)).toEqual(new Set(namedValues(SiteCalibrationMethodKind)));
  });

  it("answers UNSPECIFIED for a string it does not know, never a wrong value", () => {
    expect(retrainTriggerKind("toString")).toBe(RetrainTrigger.RETRAIN_TRIGGER_UNSPECIFIED);
    expect(retrainStageKind("constructor")).toBe(RetrainStage.RETRAIN_STAGE_UNSPECIFIED);
    expect(gateRuleKind("__proto__:x")).toBe(GateRule.GATE_RULE_UNSPECIFIED);
    expect(holdoutSchemeKind("")).toBe(HoldoutScheme.HOLDOUT_SCHEME_UNSPECIFIED);
  });
});

describe("patientFromFeatureVector", () => {
  it("gives back the patient a feature vector was made from", () => {
    const patient = {
      age: 61,
      gender: Gender.GENDER_FEMALE,
      totalBilirubin: 0.9,
      directBilirubin: 0.2,
      alkalinePhosphatase: 180,
      alanineAminotransferase: 23,
      aspartateAminotransferase: 31,
      totalProteins: 6.8,
      albumin: 3.3,
      albuminGlobulinRatio: 0.94,
    };
    expect(patientFromFeatureVector(toFeatureVector(patient))).toEqual(patient);
    expect(
      patientFromFeatureVector(toFeatureVector({ ...patient, gender: Gender.GENDER_MALE }))?.gender,
    ).toBe(Gender.GENDER_MALE);
  });

  it("refuses a vector of the wrong length", () => {
    expect(patientFromFeatureVector([1, 2, 3])).toBeUndefined();
  });
});
