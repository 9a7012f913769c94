import { HoldoutScheme } from "../gen/liver/v1/model.js";
import { afterEach, describe, expect, it } from "vitest";
import { ModelVersionEventKind, type WatchModelVersionsResponse } from "../gen/liver/v1/retrain_service.js";
import { VersionBroadcaster, type ServingSnapshot, type VersionSubscriber } from "./version-broadcaster.js";

const CURRENT = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT;
const PROMOTED = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED as const;
const ROLLED_BACK = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_ROLLED_BACK as const;
const HEARTBEAT = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT;

function snapshot(modelVersion: string): ServingSnapshot {
  return {
    modelVersion,
    sha256: modelVersion.padEnd(64, "0"),
    metrics: {
      rocAuc: 0.75,
      accuracy: 0.7,
      logLoss: 0.5,
      brierScore: 0.2,
      threshold: 0.5,
      confusionMatrix: undefined,
      holdoutRows: 10,
      holdoutScheme: "lab-profile-v1",
      holdoutSchemeKind: HoldoutScheme.HOLDOUT_SCHEME_LAB_PROFILE_V1,
      holdoutFingerprint: "",
      calibration: undefined,
    },
    synthetic: false,
  };
}

/** A subscriber whose transport accepts `capacity` events before reporting a full buffer. */
class FakeSubscriber implements VersionSubscriber {
  readonly received: WatchModelVersionsResponse[] = [];
  private drain: (() => void) | undefined;
  closedWith: string | undefined;
  constructor(private capacity = Number.POSITIVE_INFINITY) {}
  send(event: WatchModelVersionsResponse): boolean {
    this.received.push(event);
    this.capacity--;
    return this.capacity > 0;
  }
  onDrain(listener: () => void): void {
    this.drain = listener;
  }
  close(reason: string): void {
    this.closedWith = reason;
  }
  /** The peer read everything: room again. */
  makeRoom(capacity: number): void {
    this.capacity = capacity;
    const drain = this.drain;
    this.drain = undefined;
    drain?.();
  }
  kinds(): [ModelVersionEventKind, string][] {
    return this.received.map((e) => [e.kind, e.modelVersion]);
  }
}

describe("VersionBroadcaster", () => {
  const broadcasters: VersionBroadcaster[] = [];
  afterEach(() => {
    for (const b of broadcasters.splice(0)) b.close("test over");
  });
  function make(): VersionBroadcaster {
    const broadcaster = new VersionBroadcaster({ heartbeatIntervalMs: 60_000, now: () => 1_000 });
    broadcasters.push(broadcaster);
    return broadcaster;
  }

  it("refuses subscribers until a version serves", () => {
    const broadcaster = make();
    expect(broadcaster.subscribe(new FakeSubscriber())).toBeUndefined();
    broadcaster.setServing(snapshot("v1"));
    expect(broadcaster.subscribe(new FakeSubscriber())).toBeDefined();
  });

  it("sends the serving version first, then promotions, rollbacks and heartbeats", () => {
    const broadcaster = make();
    broadcaster.setServing(snapshot("v1"));
    const subscriber = new FakeSubscriber();
    broadcaster.subscribe(subscriber);
    broadcaster.publish(PROMOTED, snapshot("v2"));
    broadcaster.sendHeartbeat();
    broadcaster.publish(ROLLED_BACK, snapshot("v1"));
    expect(subscriber.kinds()).toEqual([
      [CURRENT, "v1"],
      [PROMOTED, "v2"],
      [HEARTBEAT, "v2"],
      [ROLLED_BACK, "v1"],
    ]);
    const [current, , heartbeat] = subscriber.received;
    expect(current).toMatchObject({
      sha256: snapshot("v1").sha256,
      heartbeatIntervalMs: 60_000,
      sentAt: new Date(1_000),
    });
    expect(current?.metrics?.rocAuc).toBe(0.75);
    expect(heartbeat?.metrics).toBeUndefined();
  });

  it("holds only the latest event for a subscriber that stops reading, and never blocks the others", () => {
    const broadcaster = make();
    broadcaster.setServing(snapshot("v1"));
    const slow = new FakeSubscriber(2);
    const fast = new FakeSubscriber();
    broadcaster.subscribe(slow);
    broadcaster.subscribe(fast);
    broadcaster.publish(PROMOTED, snapshot("v2"));
    expect(broadcaster.stats().lagging).toBe(1);
    for (let v = 3; v <= 1000; v++) {
      broadcaster.publish(PROMOTED, snapshot(`v${v}`));
      broadcaster.sendHeartbeat();
    }
    expect(fast.received).toHaveLength(1 + 999 + 998);
    expect(slow.received).toHaveLength(2);
    expect(broadcaster.stats()).toMatchObject({ subscribers: 2, lagging: 1, heartbeatsSkipped: 998 });
    expect(broadcaster.stats().coalesced).toBe(997);
    slow.makeRoom(100);
    expect(slow.kinds().at(-1)).toEqual([PROMOTED, "v1000"]);
    expect(slow.received).toHaveLength(3);
    expect(broadcaster.stats().lagging).toBe(0);
  });

  it("stops sending to a subscriber after it unsubscribes", () => {
    const broadcaster = make();
    broadcaster.setServing(snapshot("v1"));
    const subscriber = new FakeSubscriber();
    broadcaster.subscribe(subscriber)?.unsubscribe();
    broadcaster.publish(PROMOTED, snapshot("v2"));
    expect(subscriber.received).toHaveLength(1);
    expect(broadcaster.stats().subscribers).toBe(0);
  });

  it("closes every stream with the reason and refuses new subscribers", () => {
    const broadcaster = make();
    broadcaster.setServing(snapshot("v1"));
    const subscribers = [new FakeSubscriber(), new FakeSubscriber(1)];
    for (const s of subscribers) broadcaster.subscribe(s);
    broadcaster.close("shutting down");
    expect(subscribers.map((s) => s.closedWith)).toEqual(["shutting down", "shutting down"]);
    expect(broadcaster.subscribe(new FakeSubscriber())).toBeUndefined();
    expect(broadcaster.stats().subscribers).toBe(0);
  });
});
