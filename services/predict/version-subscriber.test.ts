import { pino } from "pino";
import { afterEach, describe, expect, it } from "vitest";
import { ModelVersionEventKind, type WatchModelVersionsResponse } from "../gen/liver/v1/retrain_service.js";
import { testChannelCredentials } from "../shared/testing/test-tls.js";
import { RetrainConnection } from "./retrain-connection.js";
import { FakeRetrainServer, type FakeVersion } from "./testing/fake-retrain-server.js";
import { waitUntil } from "./testing/wait-until.js";
import { VersionSubscriber, backoffDelay } from "./version-subscriber.js";

const logger = pino({ level: "silent" });

function version(name: string): FakeVersion {
  return { version: name, sha256: name.padEnd(64, "0"), files: [] };
}

interface Harness {
  readonly subscriber: VersionSubscriber;
  readonly events: WatchModelVersionsResponse[];
  readonly connection: RetrainConnection;
  /** Streams ended so far (failed connection attempts included). */
  readonly ended: { count: number };
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A logger that keeps each line's message, to see why the subscriber did what it did. */
function capturingLogger(): { logger: typeof logger; messages: string[] } {
  const messages: string[] = [];
  const captured = pino(
    { level: "warn" },
    {
      write: (line: string) => {
        const parsed = JSON.parse(line) as { msg?: unknown };
        messages.push(typeof parsed.msg === "string" ? parsed.msg : line);
      },
    },
  );
  return { logger: captured, messages };
}

function subscribe(
  port: number,
  options: { heartbeatTimeoutMs?: number; logger?: typeof logger } = {},
): Harness {
  const connection = new RetrainConnection(`127.0.0.1:${port}`, testChannelCredentials());
  const events: WatchModelVersionsResponse[] = [];
  let have = "";
  const ended = { count: 0 };
  const subscriber = new VersionSubscriber({
    connection,
    logger: options.logger ?? logger,
    onEvent: (event) => {
      events.push(event);
      if (event.kind !== ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT) have = event.modelVersion;
    },
    afterVersion: () => have,
    onStreamEnded: () => {
      ended.count++;
    },
    heartbeatTimeoutMs: options.heartbeatTimeoutMs ?? 30_000,
    reconnectInitialMs: 20,
    reconnectMaxMs: 200,
  });
  subscriber.start();
  cleanups.push(() => {
    subscriber.stop();
    connection.close();
  });
  return { subscriber, events, connection, ended };
}

async function startFake(heartbeatIntervalMs?: number): Promise<FakeRetrainServer> {
  const fake = new FakeRetrainServer(heartbeatIntervalMs);
  await fake.start(0);
  cleanups.push(() => fake.stop());
  return fake;
}

function versionsSeen(events: readonly WatchModelVersionsResponse[]): string[] {
  return events
    .filter((e) => e.kind !== ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT)
    .map((e) => `${ModelVersionEventKind[e.kind]}:${e.modelVersion}`);
}

describe("backoffDelay", () => {
  it("doubles the ceiling per attempt up to the maximum, with full jitter below it", () => {
    const top = () => 0.999_999;
    expect([0, 1, 2, 3, 4, 5, 6].map((a) => backoffDelay(a, 100, 2_000, top))).toEqual([
      99, 199, 399, 799, 1_599, 1_999, 1_999,
    ]);
    expect(backoffDelay(3, 100, 2_000, () => 0)).toBe(0);
    expect(backoffDelay(3, 100, 2_000, () => 0.5)).toBe(400);
    expect(backoffDelay(1_000, 100, 2_000, top)).toBe(1_999);
  });
});

describe("VersionSubscriber", () => {
  it("receives the current version first, then promotions, and reports subscribed", async () => {
    const fake = await startFake();
    fake.promote(version("v1"));
    const { subscriber, events } = subscribe(fake.port);
    await waitUntil("CURRENT v1", () => events.length >= 1);
    expect(subscriber.subscribed).toBe(true);
    fake.promote(version("v2"));
    fake.promote(version("v1"), ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_ROLLED_BACK);
    await waitUntil("three events", () => events.length >= 3);
    expect(versionsSeen(events)).toEqual([
      "MODEL_VERSION_EVENT_KIND_CURRENT:v1",
      "MODEL_VERSION_EVENT_KIND_PROMOTED:v2",
      "MODEL_VERSION_EVENT_KIND_ROLLED_BACK:v1",
    ]);
    expect(fake.watchRequests).toEqual([""]);
  });

  it("reconnects with backoff after the server restarts, sending after_version", async () => {
    const fake = await startFake();
    fake.promote(version("v1"));
    const { subscriber, events, ended } = subscribe(fake.port);
    await waitUntil("CURRENT v1", () => events.length >= 1);
    const port = fake.port;
    await fake.stop();
    await waitUntil("unsubscribed after the server went away", () => !subscriber.subscribed);
    // While nothing listens, attempts keep failing and the subscriber keeps retrying.
    await waitUntil("three failed reconnect attempts", () => ended.count >= 4);
    const restarted = new FakeRetrainServer();
    restarted.addVersion(version("v1"));
    restarted.promote(version("v2"));
    await restarted.start(port);
    cleanups.push(() => restarted.stop());
    await waitUntil("v2 after the restart", () => events.some((e) => e.modelVersion === "v2"));
    expect(subscriber.subscribed).toBe(true);
    expect(restarted.watchRequests).toEqual(["v1"]);
    expect(versionsSeen(events)).toEqual([
      "MODEL_VERSION_EVENT_KIND_CURRENT:v1",
      "MODEL_VERSION_EVENT_KIND_CURRENT:v2",
    ]);
  });

  it("detects a silent peer with the heartbeat watchdog and reopens the stream", async () => {
    const fake = await startFake(40);
    fake.promote(version("v1"));
    const log = capturingLogger();
    const { subscriber, events } = subscribe(fake.port, { heartbeatTimeoutMs: 250, logger: log.logger });
    await waitUntil("a heartbeat", () =>
      events.some((e) => e.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT),
    );
    // The peer stays connected but says nothing more: only the watchdog can notice.
    fake.silent = true;
    await fake.waitForWatchRequests(2);
    // It was the watchdog that reopened the stream (not an error from the peer), after the
    // silence it allows; timings belong to the bench, so the reason is checked, not the time.
    expect(log.messages).toContainEqual(
      expect.stringMatching(/^version stream silent for 250 ms \(no heartbeat\): reopening it/),
    );
    expect(fake.watchRequests).toEqual(["", "v1"]);
    expect(subscriber.subscribed).toBe(false);
    fake.silent = false;
    fake.promote(version("v2"));
    await waitUntil("v2 on the reopened stream", () => events.some((e) => e.modelVersion === "v2"));
    expect(subscriber.subscribed).toBe(true);
  });

  it("treats a peer that never sends anything as dead too", async () => {
    const fake = await startFake();
    fake.silent = true;
    subscribe(fake.port, { heartbeatTimeoutMs: 150 });
    await fake.waitForWatchRequests(3);
    expect(fake.watchRequests).toEqual(["", "", ""]);
  });

  it("subscribes afresh when the server does not know the after_version", async () => {
    const fake = await startFake();
    fake.promote(version("v7"));
    const { events } = subscribe(fake.port);
    await waitUntil("v7", () => events.length >= 1);
    const port = fake.port;
    await fake.stop();
    // A new store that never had v7: NOT_FOUND, then a plain subscription.
    const fresh = new FakeRetrainServer();
    fresh.promote(version("v1"));
    await fresh.start(port);
    cleanups.push(() => fresh.stop());
    await waitUntil("v1 from the new store", () => events.some((e) => e.modelVersion === "v1"));
    expect(fresh.watchRequests.slice(0, 2)).toEqual(["v7", ""]);
  });
});
