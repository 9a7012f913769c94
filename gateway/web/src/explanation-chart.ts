/**
 * Why the model answered what it did: the features that moved the estimate most, as a small
 * horizontal bar chart with a sentence per bar ("Total bilirubin 7.3 mg/dL raised the
 * estimate"), compared with a patient of average age and sex whose lab values are these
 * brought within normal limits (Explanation.reference_log_odds), whose estimate the caption
 * gives. Values that are not bars are named below, each with its reason: those within
 * normal limits or counted at a limit as part of the reference estimate (they do move the
 * answer: an albumin of 3.5 against 5.3 does, and that is inside the reference), and only
 * those the model gives no weight as having no effect.
 * Direction is said in words and by which side of the centre line a bar is on, so nothing
 * depends on colour; the bars themselves are hidden from screen readers, which read the
 * sentences.
 */
import {
  compareWithLimits,
  referenceInterval,
} from "../../../services/shared/features/clinical-reference.js";
import { h } from "./dom.js";
import type { FeatureSpec } from "./gen/liver/v1/model.js";
import type { Explanation, FeatureContribution } from "./gen/liver/v1/predict_service.js";

/** Bars shown: the largest contributions, enough to explain most answers at a glance. */
export const SHOWN_CONTRIBUTIONS = 5;

/** Below this many log-odds a feature "hardly changed" the estimate (about 0.25 points at 50 %). */
const NEGLIGIBLE_LOG_ODDS = 0.01;

/** Gender as the answer reports it (the liver.v1.Gender number) in words. */
function genderWord(value: number): string {
  return value === 1 ? "male" : value === 2 ? "female" : "unspecified";
}

/** The given value with its unit, as a clinician would write it: "7.3 mg/dL", "female". */
export function describeValue(contribution: FeatureContribution, spec: FeatureSpec | undefined): string {
  if (contribution.name === "gender") return genderWord(contribution.value);
  const number = String(Number(contribution.value.toPrecision(6)));
  const unit = spec?.unit ?? "";
  return unit === "" ? number : `${number} ${unit}`;
}

/**
 * What the model counted a clipped value as: " (counts as 5.4, its upper normal limit)" for
 * an albumin of 5.8, since the model reads a value beyond the healthy side of its normal
 * limits (and total proteins below 6.0) as that limit; "" when the answer says the value
 * counted as given (FeatureContribution.counted_value absent, as for every model trained
 * before that encoding, which Predict knows from the model's artifact and the page does not).
 */
export function countedAs(contribution: FeatureContribution): string {
  const counted = contribution.countedValue;
  if (counted === undefined || counted === contribution.value) return "";
  const limit = counted < contribution.value ? "upper" : "lower";
  return ` (counts as ${counted}, its ${limit} normal limit)`;
}

/**
 * The normal limits a value outside them was compared with: " (normal 4 to 36 U/L)", so a
 * clinician whose laboratory uses other limits sees which ones this model uses; "" for a value
 * within limits, one the answer says counted as a limit (countedAs says it), and age and gender.
 */
export function normalLimits(contribution: FeatureContribution, spec: FeatureSpec | undefined): string {
  const interval = referenceInterval(contribution.name);
  if (interval === undefined || countedAs(contribution) !== "") return "";
  if (compareWithLimits(contribution.name, contribution.value) === 0) return "";
  const unit = spec?.unit === undefined || spec.unit === "" ? "" : ` ${spec.unit}`;
  return ` (normal ${interval.low} to ${interval.high}${unit})`;
}

/** One bar's sentence: "Total bilirubin 7.3 mg/dL (normal 0.1 to 1.2 mg/dL) raised the estimate". */
export function describeContribution(
  contribution: FeatureContribution,
  spec: FeatureSpec | undefined,
): string {
  const label = spec?.label ?? contribution.name;
  const within = compareWithLimits(contribution.name, contribution.value) === 0;
  const effect =
    contribution.contribution === 0
      ? within
        ? "is within normal limits: part of the reference estimate"
        : "had no effect"
      : Math.abs(contribution.contribution) < NEGLIGIBLE_LOG_ODDS
        ? "hardly changed the estimate"
        : contribution.contribution > 0
          ? "raised the estimate"
          : "lowered the estimate";
  const value = describeValue(contribution, spec);
  return `${label} ${value}${countedAs(contribution)}${normalLimits(contribution, spec)} ${effect}`;
}

/**
 * The `count` largest contributions that moved the estimate at all, largest first (the server
 * already orders them; this re-checks).
 */
export function largestContributions(
  explanation: Explanation,
  count = SHOWN_CONTRIBUTIONS,
): FeatureContribution[] {
  return explanation.contributions
    .filter((c) => c.contribution !== 0)
    .sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution))
    .slice(0, count);
}

/** The probability of log-odds `x`, as the page writes one: "23.4 %". */
function percentOfLogOdds(x: number): string {
  return `${(100 / (1 + Math.exp(-x))).toFixed(1)} %`;
}

/**
 * A value that moved nothing, for the "No effect" line, with its reason: "Total bilirubin
 * 0.7 mg/dL (within normal limits)", "Albumin 5.8 g/dL (counts as 5.4, its upper normal
 * limit)", or, for a lab outside normal limits read as given, "Total bilirubin 7.3 mg/dL
 * (outside normal limits; this model gives it no weight)": its contribution can only be 0
 * when its weight is (the sign-constrained fit zeroes total bilirubin and the A/G ratio on
 * the real file), and the line must not read as if an abnormal value were reassuring.
 */
export function describeUnmoved(contribution: FeatureContribution, spec: FeatureSpec | undefined): string {
  const place = compareWithLimits(contribution.name, contribution.value);
  const why =
    countedAs(contribution) ||
    (place === 0
      ? " (within normal limits)"
      : place === undefined
        ? ""
        : " (outside normal limits; this model gives it no weight)");
  return `${spec?.label ?? contribution.name} ${describeValue(contribution, spec)}${why}`;
}

/**
 * The values that are not bars, in two sentences (undefined when a group is empty):
 * `inReference`, labs within normal limits or counted at a limit, whose part of the answer is
 * inside the reference estimate (so never "no effect": within limits a value still moves the
 * answer, only not away from the reference); `noEffect`, values that moved nothing at all (a
 * lab outside limits that the model gives no weight, an age or gender at the training average).
 */
export function unmovedLines(
  explanation: Explanation,
  specs: ReadonlyMap<string, FeatureSpec>,
): { inReference: string | undefined; noEffect: string | undefined } {
  const inReference: string[] = [];
  const noEffect: string[] = [];
  for (const c of explanation.contributions) {
    if (c.contribution !== 0) continue;
    const text = describeUnmoved(c, specs.get(c.name));
    const reference = countedAs(c) !== "" || compareWithLimits(c.name, c.value) === 0;
    (reference ? inReference : noEffect).push(text);
  }
  return {
    inReference:
      inReference.length === 0
        ? undefined
        : `Part of the reference estimate, not shown as bars: ${inReference.join("; ")}.`,
    noEffect: noEffect.length === 0 ? undefined : `No effect: ${noEffect.join("; ")}.`,
  };
}

/** What the reference is, in the caption's words (age and gender are the training average). */
const REFERENCE_WORDS =
  "a patient of average age and sex whose lab values are these brought within normal limits";

/**
 * The chart's caption: what the bars compare with, and that reference's estimate. The
 * reference keeps no age or gender of the patient's (it has the training average), so it is
 * never called "the same patient".
 */
export function explanationCaption(explanation: Explanation, shown: number, total: number): string {
  return shown === 0
    ? `Nothing moved this estimate away from that of ${REFERENCE_WORDS}.`
    : `What moved this estimate most (${shown} of ${total} values), compared with ${REFERENCE_WORDS} ` +
        `(estimate ${percentOfLogOdds(explanation.referenceLogOdds)}):`;
}

/** The explanation under a result. */
export class ExplanationChart {
  private specs = new Map<string, FeatureSpec>();

  /** The schema from GetModelInfo, for labels and units. */
  setSchema(features: readonly FeatureSpec[]): void {
    this.specs = new Map(features.map((spec) => [spec.name, spec]));
  }

  /** The chart for `explanation`; undefined when the answer carried none. */
  render(explanation: Explanation | undefined): HTMLElement | undefined {
    if (explanation === undefined || explanation.contributions.length === 0) return undefined;
    const shown = largestContributions(explanation);
    const largest = Math.max(...shown.map((c) => Math.abs(c.contribution)), 1e-12);
    const describe = (c: FeatureContribution): string => describeContribution(c, this.specs.get(c.name));
    const { inReference, noEffect } = unmovedLines(explanation, this.specs);
    return h(
      "figure",
      { class: "explanation" },
      h("figcaption", {}, explanationCaption(explanation, shown.length, explanation.contributions.length)),
      h(
        "ul",
        { class: "explanation-list" },
        ...shown.map((contribution) => {
          const raised = contribution.contribution > 0;
          const width = (50 * Math.abs(contribution.contribution)) / largest;
          const bar = h("span", { class: raised ? "explanation-bar raised" : "explanation-bar lowered" });
          // Set through the CSSOM, not a style attribute, so a strict style-src CSP allows it.
          bar.style.width = `${width.toFixed(1)}%`;
          bar.style.left = raised ? "50%" : `${(50 - width).toFixed(1)}%`;
          return h(
            "li",
            { class: "explanation-item", "data-feature": contribution.name },
            h("span", { class: "explanation-text" }, `${raised ? "▲" : "▼"} ${describe(contribution)}`),
            h("span", { class: "explanation-track", "aria-hidden": "true" }, bar),
          );
        }),
      ),
      ...(inReference === undefined ? [] : [h("p", { class: "explanation-in-reference" }, inReference)]),
      ...(noEffect === undefined ? [] : [h("p", { class: "explanation-unmoved" }, noEffect)]),
    );
  }
}
