import { type Attributes, ROOT_CONTEXT, type SpanContext, propagation, trace } from "@opentelemetry/api";
import { ModelVersionEventKind, type WatchModelVersionsResponse } from "../gen/liver/v1/retrain_service.js";
import { ATTR_MODEL_VERSION, ATTR_SITE, DEFAULT_SITE, linkTo, meshTracer } from "../shared/ops/tracing.js";
import type { ModelHolder } from "./model-holder.js";
import type { ServingModel } from "./serving-model.js";

/** Announced versions waiting for their swap; older ones are dropped beyond this. */
const MAX_WAITING = 8;

interface Announced {
  readonly link: SpanContext | undefined;
  readonly receivedAt: number;
}

/**
 * One "model.swap" span per swap of this replica, from the version event that announced the
 * version to the swap itself, linked to the promotion (or rollback) span whose traceparent the
 * event carried, so a verdict's trace leads to every replica that took its version up.
 */
export class SwapTracing {
  private readonly announced = new Map<string, Announced>();

  /** Notes an announced version (PROMOTED, ROLLED_BACK or the stream's CURRENT). */
  eventReceived(event: WatchModelVersionsResponse): void {
    if (event.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT) return;
    if (this.announced.has(event.modelVersion)) return;
    const link =
      event.traceparent === ""
        ? undefined
        : trace.getSpanContext(propagation.extract(ROOT_CONTEXT, { traceparent: event.traceparent }));
    this.announced.set(event.modelVersion, { link, receivedAt: Date.now() });
    for (const version of this.announced.keys()) {
      if (this.announced.size <= MAX_WAITING) break;
      this.announced.delete(version);
    }
  }

  /** Records the swap to `model` (ModelHolder.onSwap). */
  swapped(model: ServingModel): void {
    const announced = this.announced.get(model.version);
    this.announced.delete(model.version);
    const span = meshTracer().startSpan(
      "model.swap",
      {
        root: true,
        startTime: announced?.receivedAt ?? Date.now(),
        links: linkTo(announced?.link, { "liver.link": "promotion" }),
        attributes: {
          [ATTR_MODEL_VERSION]: model.version,
          [ATTR_SITE]: DEFAULT_SITE,
          "liver.model.sha256": model.sha256,
        },
      },
      ROOT_CONTEXT,
    );
    span.end();
  }
}

/** The serving model_version and the site, for the server span of each traced call. */
export function servingAttributes(holder: ModelHolder): () => Attributes {
  return () => ({ [ATTR_MODEL_VERSION]: holder.current?.version ?? "", [ATTR_SITE]: DEFAULT_SITE });
}
