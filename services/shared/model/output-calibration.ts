/**
 * The site recalibration of a model's output: served log-odds = slope × base log-odds +
 * intercept. Two numbers, a positive slope: it can move every patient's probability toward
 * the prevalence and sharpness seen where the model is used, but it cannot reorder patients,
 * so no feedback can change which of two patients looks sicker (ROC AUC is unchanged on any
 * population). Stored in an artifact's calibration.json; artifacts without one serve the base
 * model as trained.
 */

/** slope × logit + intercept; the identity is { slope: 1, intercept: 0 }. */
export interface OutputCalibration {
  readonly slope: number;
  readonly intercept: number;
}

/** The base model's output unchanged. */
export const IDENTITY_CALIBRATION: OutputCalibration = { slope: 1, intercept: 0 };

/** Bounds every stored calibration must respect: the influence bound, checked on read too. */
export const CALIBRATION_BOUNDS = {
  minSlope: 0.25,
  maxSlope: 4,
  maxAbsIntercept: 3,
} as const;

/** What calibration.json holds: the map, and how it was fitted (for the registry and people). */
export interface CalibrationRecord extends OutputCalibration {
  readonly formatVersion: 1;
  /** Whether feedback changed the output; false means the identity with `reason` saying why. */
  readonly applied: boolean;
  readonly reason: string;
  /** Labelled feedback rows it was fitted on, and held out to check it. */
  readonly fitRows: number;
  readonly checkRows: number;
  /** Log loss on the held-out feedback rows, base model vs recalibrated (NaN without check rows). */
  readonly checkLogLossBase: number;
  readonly checkLogLossRecalibrated: number;
}

/** Applies the calibration to a base log-odds value. */
export function calibrateLogit(calibration: OutputCalibration, logit: number): number {
  return calibration.slope * logit + calibration.intercept;
}

/** Parses and checks calibration.json; every failure names the field. */
export function parseCalibrationRecord(json: unknown): CalibrationRecord {
  const fail = (what: string): never => {
    throw new Error(`calibration.json: ${what}`);
  };
  if (typeof json !== "object" || json === null) return fail("expected a JSON object");
  const r = json as Record<string, unknown>;
  if (r["formatVersion"] !== 1) fail(`formatVersion is ${String(r["formatVersion"])}; expected 1`);
  const num = (key: string, allowNaN = false): number => {
    const value = r[key];
    if (allowNaN && value === null) return Number.NaN;
    if (typeof value !== "number" || !Number.isFinite(value)) return fail(`${key} must be a finite number`);
    return value;
  };
  const slope = num("slope");
  const intercept = num("intercept");
  const { minSlope, maxSlope, maxAbsIntercept } = CALIBRATION_BOUNDS;
  if (slope < minSlope || slope > maxSlope) fail(`slope ${slope} is outside ${minSlope} to ${maxSlope}`);
  if (Math.abs(intercept) > maxAbsIntercept) fail(`intercept ${intercept} is outside ±${maxAbsIntercept}`);
  if (typeof r["applied"] !== "boolean") fail("applied must be true or false");
  if (typeof r["reason"] !== "string") fail("reason must be a string");
  const count = (key: string): number => {
    const value = num(key);
    if (!Number.isSafeInteger(value) || value < 0) fail(`${key} must be a whole number >= 0`);
    return value;
  };
  return {
    formatVersion: 1,
    slope,
    intercept,
    applied: r["applied"] as boolean,
    reason: r["reason"] as string,
    fitRows: count("fitRows"),
    checkRows: count("checkRows"),
    checkLogLossBase: num("checkLogLossBase", true),
    checkLogLossRecalibrated: num("checkLogLossRecalibrated", true),
  };
}
