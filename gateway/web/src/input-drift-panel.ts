/**
 * Whether the patients the model now sees still look like the ones it was trained on: the
 * answering replica's drift check (GetModelInfo.input_drift), in words ("Inputs have
 * drifted on ALT since 14:05:10"). Polled slowly; each call may reach another replica,
 * which is fine: every replica judges its own recent inputs, and a shift at one clinic
 * shows on the replicas that serve it.
 */
import { Backoff, delay } from "./backoff.js";
import { h } from "./dom.js";
import type { FeatureSpec } from "./gen/liver/v1/model.js";
import type { GetModelInfoResponse, InputDrift } from "./gen/liver/v1/predict_service.js";
import { formatClock } from "./time-format.js";

/** Poll interval while the answers come (drift moves over hundreds of predictions). */
const POLL_MS = 15_000;

/** The drift state in sentences; the first is the headline. */
export function describeInputDrift(
  drift: InputDrift | undefined,
  features: readonly FeatureSpec[],
  now: Date = new Date(),
): string[] {
  if (drift === undefined || !drift.measured) {
    return ["Input drift is not measured: the serving model was trained before drift checks existed."];
  }
  const window = `last ${drift.windowRows} of up to ${drift.windowSize} inputs on this replica`;
  const judged = drift.features.filter((f) => Number.isFinite(f.psi));
  if (judged.length === 0) {
    return [`Too few inputs to judge drift yet (${window}).`];
  }
  const label = (name: string): string => features.find((spec) => spec.name === name)?.label ?? name;
  const drifted = drift.features.filter((f) => f.drifted);
  if (drifted.length === 0) {
    return [`Inputs match the training data (${window}; every feature's PSI at most ${drift.threshold}).`];
  }
  return drifted.map(
    (f) =>
      `Inputs have drifted on ${label(f.name)}` +
      `${f.driftingSince === undefined ? "" : ` since ${formatClock(f.driftingSince, now)}`} ` +
      `(PSI ${f.psi.toFixed(2)} against the training data, above ${drift.threshold}; ${window}).`,
  );
}

/** The "Inputs" part of the monitoring card. */
export class InputDriftPanel {
  private readonly list = h("ul", { class: "status-details" });
  private readonly backoff = new Backoff({ initialMs: POLL_MS, maxMs: 4 * POLL_MS });

  constructor(
    container: HTMLElement,
    private readonly fetchInfo: () => Promise<GetModelInfoResponse>,
  ) {
    container.replaceChildren(h("h3", { class: "calibration-heading" }, "Inputs"), this.list);
    this.render(["Checking the inputs the model has seen…"]);
  }

  /** Polls until the page closes; failures keep the last state and retry with backoff. */
  async run(): Promise<void> {
    for (;;) {
      let wait = POLL_MS;
      try {
        const info = await this.fetchInfo();
        this.backoff.reset();
        this.render(describeInputDrift(info.inputDrift, info.features));
      } catch {
        // The outage banner reports Predict being down; this panel keeps its last words.
        wait = this.backoff.next();
      }
      await delay(wait);
    }
  }

  private render(lines: readonly string[]): void {
    const key = lines.join("\n");
    if (this.list.dataset["key"] === key) return;
    this.list.dataset["key"] = key;
    this.list.replaceChildren(...lines.map((line) => h("li", {}, line)));
  }
}
