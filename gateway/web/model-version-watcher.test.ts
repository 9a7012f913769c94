import { describe, expect, it } from "vitest";
import { Backoff } from "./src/backoff.js";
import {
  ModelVersionEventKind,
  type WatchModelVersionsResponse,
} from "./src/gen/liver/v1/retrain_service.js";
import { GrpcCode, GrpcWebError } from "./src/grpc-status.js";
import { ModelVersionWatcher, type VersionWatchListener } from "./src/model-version-watcher.js";

const { MODEL_VERSION_EVENT_KIND_CURRENT: CURRENT, MODEL_VERSION_EVENT_KIND_PROMOTED: PROMOTED } =
  ModelVersionEventKind;
const HEARTBEAT = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT;

function event(
  kind: ModelVersionEventKind,
  version: string,
  heartbeatIntervalMs = 1000,
): WatchModelVersionsResponse {
  return {
    kind,
    modelVersion: version,
    sha256: "",
    metrics: undefined,
    sentAt: undefined,
    heartbeatIntervalMs,
    trainedOnSyntheticData: true,
    pendingVersion: "",
  };
}

type Step = WatchModelVersionsResponse | GrpcWebError | "hang";

/** A fake server: each opened stream plays the next script; records after_version of each open. */
function fakeServer(scripts: Step[][]): {
  open: (after: string, signal: AbortSignal) => AsyncGenerator<WatchModelVersionsResponse>;
  opened: string[];
} {
  const opened: string[] = [];
  return {
    opened,
    open: async function* (after, signal) {
      opened.push(after);
      const script = scripts.shift() ?? ["hang"];
      for (const step of script) {
        if (step === "hang") {
          await new Promise<void>((resolve) =>
            signal.addEventListener("abort", () => resolve(), { once: true }),
          );
          throw new GrpcWebError(GrpcCode.CANCELLED, "cancelled", "/watch");
        }
        if (step instanceof GrpcWebError) throw step;
        yield step;
      }
    },
  };
}

/** Records the listener calls and lets a test wait for the n-th of a kind. */
function recorder(): VersionWatchListener & {
  log: string[];
  until(pred: (log: string[]) => boolean): Promise<void>;
} {
  const log: string[] = [];
  const waiters: { pred: (log: string[]) => boolean; resolve: () => void }[] = [];
  const push = (entry: string): void => {
    log.push(entry);
    for (const waiter of [...waiters]) {
      if (waiter.pred(log)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  };
  return {
    log,
    onConnected: () => push("connected"),
    onVersion: (e, previous) =>
      push(`version ${previous || "-"}->${e.modelVersion} (${ModelVersionEventKind[e.kind]})`),
    onDisconnected: (error, wait) => push(`down ${error.codeName} ${error.details} retry ${wait}`),
    until: (pred) =>
      pred(log) ? Promise.resolve() : new Promise((resolve) => waiters.push({ pred, resolve })),
  };
}

const fastBackoff = (): Backoff => new Backoff({ initialMs: 1, maxMs: 4, jitter: 0 });

describe("ModelVersionWatcher", () => {
  it("reports the current version, promotions, and reconnects with after_version when the stream drops", async () => {
    const server = fakeServer([
      [
        event(CURRENT, "v1"),
        event(HEARTBEAT, "v1"),
        event(PROMOTED, "v2"),
        new GrpcWebError(14, "shutting down", "/w"),
      ],
      [event(CURRENT, "v2"), event(PROMOTED, "v3"), "hang"],
    ]);
    const listener = recorder();
    const watcher = new ModelVersionWatcher(server.open, listener, { backoff: fastBackoff() });
    watcher.start();
    await listener.until((log) => log.includes("version v2->v3 (MODEL_VERSION_EVENT_KIND_PROMOTED)"));
    await watcher.stop();

    expect(server.opened).toEqual(["", "v2"]);
    expect(listener.log).toEqual([
      "connected",
      "version -->v1 (MODEL_VERSION_EVENT_KIND_CURRENT)",
      "version v1->v2 (MODEL_VERSION_EVENT_KIND_PROMOTED)",
      "down UNAVAILABLE shutting down retry 1",
      "connected",
      "version v2->v2 (MODEL_VERSION_EVENT_KIND_CURRENT)",
      "version v2->v3 (MODEL_VERSION_EVENT_KIND_PROMOTED)",
    ]);
    expect(watcher.lastVersion).toBe("v3");
  });

  it("backs off more on each failed attempt and starts over after a success", async () => {
    const down = (): GrpcWebError => new GrpcWebError(14, "cannot reach the gateway", "/w");
    const server = fakeServer([
      [down()],
      [down()],
      [down()],
      [event(CURRENT, "v1"), down()],
      [event(CURRENT, "v1"), "hang"],
    ]);
    const listener = recorder();
    const watcher = new ModelVersionWatcher(server.open, listener, { backoff: fastBackoff() });
    watcher.start();
    await listener.until((log) => log.filter((l) => l === "connected").length === 2);
    await watcher.stop();
    expect(listener.log.filter((l) => l.startsWith("down")).map((l) => l.split(" retry ")[1])).toEqual([
      "1",
      "2",
      "4",
      "1",
    ]);
  });

  it("treats a heartbeat naming a new version as a missed promotion, and ignores plain heartbeats", async () => {
    const server = fakeServer([
      [event(CURRENT, "v1"), event(HEARTBEAT, "v1"), event(HEARTBEAT, "v4"), "hang"],
    ]);
    const listener = recorder();
    const watcher = new ModelVersionWatcher(server.open, listener, { backoff: fastBackoff() });
    watcher.start();
    await listener.until((log) => log.some((l) => l.includes("->v4")));
    await watcher.stop();
    expect(listener.log).toEqual([
      "connected",
      "version -->v1 (MODEL_VERSION_EVENT_KIND_CURRENT)",
      "version v1->v4 (MODEL_VERSION_EVENT_KIND_HEARTBEAT)",
    ]);
  });

  it("reconnects when the stream goes silent for several heartbeat intervals", async () => {
    const server = fakeServer([
      [event(CURRENT, "v1", 5), "hang"],
      [event(CURRENT, "v1"), "hang"],
    ]);
    const listener = recorder();
    const watcher = new ModelVersionWatcher(server.open, listener, {
      backoff: fastBackoff(),
      heartbeatsMissed: 2,
    });
    watcher.start();
    await listener.until((log) => log.filter((l) => l === "connected").length === 2);
    await watcher.stop();
    expect(listener.log[2]).toBe(
      "down UNAVAILABLE no message on the version stream for 0 s; reconnecting retry 1",
    );
    expect(server.opened).toEqual(["", "v1"]);
  });

  it("starts afresh when the server no longer knows the last version", async () => {
    const server = fakeServer([
      [event(CURRENT, "v7"), new GrpcWebError(14, "restarting", "/w")],
      [new GrpcWebError(GrpcCode.NOT_FOUND, "unknown after_version v7", "/w")],
      [event(CURRENT, "v1"), "hang"],
    ]);
    const listener = recorder();
    const watcher = new ModelVersionWatcher(server.open, listener, { backoff: fastBackoff() });
    watcher.start();
    await listener.until((log) => log.some((l) => l.includes("->v1")));
    await watcher.stop();
    expect(server.opened).toEqual(["", "v7", ""]);
  });

  it("stops promptly while waiting on an open stream", async () => {
    const server = fakeServer([[event(CURRENT, "v1"), "hang"]]);
    const listener = recorder();
    const watcher = new ModelVersionWatcher(server.open, listener, { backoff: fastBackoff() });
    watcher.start();
    await listener.until((log) => log.length === 2);
    await watcher.stop();
    expect(listener.log).not.toContainEqual(expect.stringMatching(/^down/));
  });
});
