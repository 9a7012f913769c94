import { describe, expect, it } from "vitest";
import { RetrainMetrics } from "./retrain-metrics.js";

describe("RetrainMetrics scrape-time gauges", () => {
  it("read the bound sources at every scrape", async () => {
    const metrics = new RetrainMetrics({ defaultMetrics: false });
    let pending = 3;
    metrics.bind({
      pendingLabelled: () => pending,
      subscribers: () => 2,
      laggingSubscribers: () => 1,
      state: () => "running",
    });
    const first = await metrics.registry.metrics();
    expect(first).toContain("liver_retrain_pending_labelled_feedback 3");
    expect(first).toContain("liver_retrain_watch_subscribers 2");
    expect(first).toContain("liver_retrain_watch_lagging_subscribers 1");
    expect(first).toContain('liver_retrain_state{state="running"} 1');
    expect(first).toContain('liver_retrain_state{state="idle"} 0');
    pending = 7;
    expect(await metrics.registry.metrics()).toContain("liver_retrain_pending_labelled_feedback 7");
  });
});
