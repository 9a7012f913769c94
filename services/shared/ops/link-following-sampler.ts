/**
 * The sampler of every process: the standard one OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG
 * name, except that a span linked to a sampled span is sampled too.
 *
 * Why: a retrain run is a new trace linked to the verdicts it trains on, and a replica's swap
 * a new trace linked to the promotion it swaps to. Under a ratio sampler (the manifests ship
 * 1 %), a verdict the clinician's page traced would have its run kept 1 time in 100, and the
 * chain verdict → run → promotion → swap would almost never be whole in the collector. Runs
 * and swaps are rare (a few an hour), so keeping the linked ones costs nothing measurable.
 *
 * The standard samplers are built here from the variables because the SDK's own builder is
 * not part of its public API; the names and defaults are the OpenTelemetry specification's
 * (parentbased_always_on when unset, ratio 1 when the argument is unset).
 */
import { type Attributes, type Context, type Link, type SpanKind, TraceFlags } from "@opentelemetry/api";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";

/** The OTEL_TRACES_SAMPLER values this code base supports (the specification's built-ins). */
export const SAMPLER_NAMES = [
  "always_on",
  "always_off",
  "traceidratio",
  "parentbased_always_on",
  "parentbased_always_off",
  "parentbased_traceidratio",
] as const;

/** A sampled decision for spans linked to a sampled span, else the inner sampler's. */
export class LinkFollowingSampler implements Sampler {
  constructor(private readonly inner: Sampler) {}

  shouldSample(
    context: Context,
    traceId: string,
    spanName: string,
    spanKind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (links.some((link) => (link.context.traceFlags & TraceFlags.SAMPLED) !== 0)) {
      return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    }
    return this.inner.shouldSample(context, traceId, spanName, spanKind, attributes, links);
  }

  toString(): string {
    return `LinkFollowingSampler{${this.inner.toString()}}`;
  }
}

/** The ratio of OTEL_TRACES_SAMPLER_ARG: a number in [0, 1]; 1 when unset. */
function ratioOf(arg: string | undefined): number {
  if (arg === undefined || arg.trim() === "") return 1;
  const ratio = Number(arg);
  if (!Number.isFinite(ratio) || ratio < 0 || ratio > 1) {
    throw new Error(
      `OTEL_TRACES_SAMPLER_ARG is ${JSON.stringify(arg)}; expected a ratio from 0 to 1, e.g. 0.01`,
    );
  }
  return ratio;
}

/**
 * The sampler the variables name, following sampled links. Throws on a name or ratio it
 * does not know, naming the variable, so a typo does not silently trace everything.
 */
export function samplerFromEnv(env: NodeJS.ProcessEnv): Sampler {
  const name = (env["OTEL_TRACES_SAMPLER"] ?? "parentbased_always_on").trim().toLowerCase();
  const arg = env["OTEL_TRACES_SAMPLER_ARG"];
  const inner = ((): Sampler => {
    switch (name) {
      case "always_on":
        return new AlwaysOnSampler();
      case "always_off":
        return new AlwaysOffSampler();
      case "traceidratio":
        return new TraceIdRatioBasedSampler(ratioOf(arg));
      case "parentbased_always_on":
        return new ParentBasedSampler({ root: new AlwaysOnSampler() });
      case "parentbased_always_off":
        return new ParentBasedSampler({ root: new AlwaysOffSampler() });
      case "parentbased_traceidratio":
        return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratioOf(arg)) });
      default:
        throw new Error(
          `OTEL_TRACES_SAMPLER is ${JSON.stringify(env["OTEL_TRACES_SAMPLER"])}; expected one of ${SAMPLER_NAMES.join(", ")}`,
        );
    }
  })();
  return new LinkFollowingSampler(inner);
}
