import { Metadata } from "@grpc/grpc-js";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FeedbackVerdict, type RetrainServiceClient } from "../gen/liver/v1/retrain_service.js";
import type { FeedbackTokenSigner } from "../shared/feedback/feedback-token.js";
import { parseTrustedAddresses } from "./feedback-attribution.js";
import { startRetrainServer, type RetrainServerHandle } from "./retrain-server.js";
import { DRIFT_MIN_VERDICTS } from "./site-calibration-drift.js";
import { HoldableTrainer } from "./testing/holdable-trainer.js";
import { bearer, retrainClient, unary } from "./testing/retrain-clients.js";
import { prediction, tempDir, testConfig, testSigner } from "./testing/retrain-fixtures.js";
import { WorkerTrainer } from "./training-worker.js";

const silent = pino({ level: "silent" });
/** Verdicts per judged site; every answer said "no liver disease" with probability 0.3. */
const VERDICTS = 120;
const PROBABILITY = 0.3;
const ADMIN_TOKEN = "drift-admin-token-0123456789abcdef";

function fromSite(site: string, clinician: number): Metadata {
  const metadata = new Metadata();
  // The test client is on loopback, trusted as a site's gateway.
  metadata.set("x-liver-site", site);
  metadata.set("x-forwarded-for", `198.51.100.${clinician}`);
  return metadata;
}

describe("calibration drift per site on a real RetrainService (real SQLite)", () => {
  let tmp: ReturnType<typeof tempDir>;
  let signer: FeedbackTokenSigner;
  let server: RetrainServerHandle;
  let client: RetrainServiceClient;
  let trainer: HoldableTrainer;

  beforeAll(async () => {
    tmp = tempDir();
    const keys = testSigner();
    signer = keys.signer;
    // No retrain during the test: the serving version stays the one the verdicts judge.
    const config = testConfig(tmp.dir, keys.key, {
      minBatch: 100_000,
      trustedGateways: parseTrustedAddresses("127.0.0.1/8,::1/128"),
      adminToken: ADMIN_TOKEN,
    });
    trainer = new HoldableTrainer(WorkerTrainer.forConfig(config, silent));
    server = await startRetrainServer(config, silent, { syntheticRows: 600, defaultMetrics: false, trainer });
    client = retrainClient(server.port);
    await server.scheduler.whenIdle();
  }, 120_000);

  afterAll(async () => {
    client.close();
    await server.close();
    tmp.remove();
  });

  /** `events` of `count` answers at `site` turn out to be liver disease (marked wrong). */
  async function submit(
    site: string,
    count: number,
    events: number,
    modelVersion: string,
  ): Promise<string[]> {
    const eventIds: string[] = [];
    for (let start = 0; start < count; start += 20) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(20, count - start) }, (_, j) => {
          const i = start + j;
          const token = signer.sign(
            prediction({ diagnosis: 2, probability: PROBABILITY, site, modelVersion }),
          );
          const verdict =
            i < events ? FeedbackVerdict.FEEDBACK_VERDICT_WRONG : FeedbackVerdict.FEEDBACK_VERDICT_CORRECT;
          return unary(
            client.submitFeedback.bind(client),
            { feedbackToken: token, verdict },
            fromSite(site, i % 200),
          );
        }),
      );
      answers.forEach((answer, j) => {
        if (start + j < events) eventIds.push(answer.feedbackId);
      });
    }
    return eventIds;
  }

  it("reports O / E with its interval per site in GetRetrainStatus and the metrics, alarming only the shifted site", async () => {
    const serving = server.broadcaster.current?.modelVersion ?? "";
    expect(serving).not.toBe("");
    // Before any verdict: nothing to report (and the serving version's window is loaded).
    expect((await unary(client.getRetrainStatus.bind(client), {})).calibrationDrift).toEqual([]);

    // clinic-a is calibrated: 36 events where 120 x 0.3 = 36 were expected.
    await submit("clinic-a", VERDICTS, 36, serving);
    // clinic-b's outcomes run far above its answers: 80 events where 36 were expected.
    const clinicBEvents = await submit("clinic-b", VERDICTS, 80, serving);
    // clinic-c has too few verdicts to be judged, however far off they are.
    await submit("clinic-c", DRIFT_MIN_VERDICTS - 1, DRIFT_MIN_VERDICTS - 1, serving);
    // Verdicts on another version do not count for the serving one.
    await submit("clinic-a", 30, 30, "v999");

    const status = await unary(client.getRetrainStatus.bind(client), {});
    const bySite = new Map(status.calibrationDrift.map((d) => [d.site, d]));
    expect([...bySite.keys()]).toEqual(["clinic-a", "clinic-b", "clinic-c"]);
    const a = bySite.get("clinic-a");
    expect(a).toMatchObject({ verdicts: VERDICTS, observed: 36, alarm: false });
    expect(a?.expected).toBeCloseTo(36, 9);
    expect(a?.ratio).toBeCloseTo(1, 9);
    expect(a?.ratioLow).toBeLessThan(1);
    expect(a?.ratioHigh).toBeGreaterThan(1);
    const b = bySite.get("clinic-b");
    expect(b).toMatchObject({ verdicts: VERDICTS, observed: 80, alarm: true });
    expect(b?.ratio).toBeCloseTo(80 / 36, 9);
    expect(b?.ratioLow).toBeGreaterThan(1);
    expect(bySite.get("clinic-c")).toMatchObject({ verdicts: DRIFT_MIN_VERDICTS - 1, alarm: false });

    const scrape = await (await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`)).text();
    expect(scrape).toContain('liver_retrain_site_calibration_drift_alarm{site="clinic-a"} 0');
    expect(scrape).toContain('liver_retrain_site_calibration_drift_alarm{site="clinic-b"} 1');
    expect(scrape).toContain('liver_retrain_site_calibration_drift_alarm{site="clinic-c"} 0');
    expect(scrape).toMatch(/liver_retrain_site_calibration_oe\{site="clinic-b",bound="low"\} 1\.\d+/);

    // An admin excludes clinic-b's event verdicts: they stop counting at once. The retrain the
    // exclusion queues is made to fail, so the serving version (and its window) stays.
    trainer.failNext(new Error("no retrain in this test"));
    const change = await unary(
      client.excludeFeedback.bind(client),
      {
        selector: { feedbackIds: clinicBEvents, source: "", received: undefined },
        reason: "test: not real outcomes",
      },
      bearer(ADMIN_TOKEN),
    );
    expect(change.change?.affected).toBe(80);
    await server.scheduler.whenIdle();
    expect(server.broadcaster.current?.modelVersion).toBe(serving);
    const after = await unary(client.getRetrainStatus.bind(client), {});
    expect(after.calibrationDrift.find((d) => d.site === "clinic-b")).toMatchObject({
      verdicts: VERDICTS - 80,
      observed: 0,
      alarm: false,
    });
  }, 120_000);
});
