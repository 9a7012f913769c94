/**
 * The page starts the trace of each clinician-facing call (Predict, SubmitFeedback): a W3C
 * `traceparent` with a fresh random trace id and span id, so a trace begins at the clinician
 * and continues through the gateway (Envoy or the local bridge), Predict and Retrain.
 *
 * The sampled flag is always 01. The services' default sampler is parent-based, so they
 * record every call the page starts: calls a person makes one click at a time are few next
 * to service-to-service traffic (the ratio sampler's target), and they are the calls someone
 * asks about ("the answer took four seconds"). An operator who wants the ratio to apply to
 * the page as well sets OTEL_TRACES_SAMPLER=traceidratio on the gateway, the first hop; its
 * decision then travels on to the services.
 *
 * LiverApi sends one with each Predict and SubmitFeedback as call metadata.
 */
/** Fills a byte array with random values (crypto.getRandomValues). */
export type RandomFill = (bytes: Uint8Array) => Uint8Array;

const browserRandom: RandomFill = (bytes) => crypto.getRandomValues(bytes);

/** A sampled W3C traceparent of a new trace: `00-<32 hex trace id>-<16 hex span id>-01`. */
export function newTraceparent(random: RandomFill = browserRandom): string {
  return `00-${randomHexId(16, random)}-${randomHexId(8, random)}-01`;
}

/** `bytes` random bytes as lowercase hex; never all zeros (an invalid W3C id). */
function randomHexId(bytes: number, random: RandomFill): string {
  for (;;) {
    const id = random(new Uint8Array(bytes));
    if (id.some((byte) => byte !== 0)) {
      return Array.from(id, (byte) => byte.toString(16).padStart(2, "0")).join("");
    }
  }
}
