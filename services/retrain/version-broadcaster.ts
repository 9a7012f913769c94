import { ModelVersionEventKind, type WatchModelVersionsResponse } from "../gen/liver/v1/retrain_service.js";
import type { ModelMetrics } from "../gen/liver/v1/model.js";

/** The serving version as the stream announces it. */
export interface ServingSnapshot {
  readonly modelVersion: string;
  /** SHA-256 (hex) of the artifact's manifest. */
  readonly sha256: string;
  readonly metrics: ModelMetrics;
  readonly synthetic: boolean;
}

/**
 * One subscriber's end of the stream. `send` returns false when the transport's buffer is
 * full (the peer is not reading); `onDrain` is called once it has room again.
 */
export interface VersionSubscriber {
  send(event: WatchModelVersionsResponse): boolean;
  onDrain(listener: () => void): void;
  /** Ends the stream because the server is going away. */
  close(reason: string): void;
}

/** A registered subscriber; unsubscribe when its call ends. */
export interface Subscription {
  unsubscribe(): void;
}

/** Counters for metrics and tests. */
export interface BroadcasterStats {
  readonly subscribers: number;
  /** Subscribers whose transport buffer is full right now. */
  readonly lagging: number;
  /** Events replaced by a newer one for a lagging subscriber, since start. */
  readonly coalesced: number;
  /** Heartbeats skipped because their subscriber was lagging, since start. */
  readonly heartbeatsSkipped: number;
}

interface Slot {
  readonly subscriber: VersionSubscriber;
  lagging: boolean;
  /** The newest undelivered event of a lagging subscriber: at most one is ever held. */
  latest: WatchModelVersionsResponse | undefined;
  closed: boolean;
}

/** Options of VersionBroadcaster. */
export interface VersionBroadcasterOptions {
  readonly heartbeatIntervalMs: number;
  /** Called when a subscriber starts lagging, for logs and tests. */
  readonly onLagging?: (stats: BroadcasterStats) => void;
  readonly now?: () => number;
}

/**
 * Pushes version events to every WatchModelVersions subscriber. A subscriber that stops
 * reading costs at most one held event: while its transport buffer is full, newer events
 * replace the held one (only the latest serving version matters) and heartbeats skip it,
 * so one slow or dead peer never delays the others or grows memory.
 */
export class VersionBroadcaster {
  private readonly slots = new Set<Slot>();
  private serving: ServingSnapshot | undefined;
  /** The candidate waiting for approval, named on every event; "" when none waits. */
  private pendingVersion = "";
  private heartbeat: NodeJS.Timeout | undefined;
  private coalesced = 0;
  private heartbeatsSkipped = 0;
  private closedReason: string | undefined;
  private readonly now: () => number;

  constructor(private readonly options: VersionBroadcasterOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The serving version subscribers are told about; undefined before the first. */
  get current(): ServingSnapshot | undefined {
    return this.serving;
  }

  /** The candidate waiting for approval; "" when none waits. */
  get pending(): string {
    return this.pendingVersion;
  }

  /** Sets the waiting candidate without an event (startup, or after an approval or rejection). */
  setPending(modelVersion: string): void {
    this.pendingVersion = modelVersion;
  }

  /**
   * Announces a candidate that waits for approval (PENDING_APPROVAL); the serving version
   * is unchanged, so subscribers that only follow serving versions ignore it.
   */
  publishPending(modelVersion: string): void {
    this.pendingVersion = modelVersion;
    const serving = this.serving;
    if (serving === undefined) return;
    const event = this.event(ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PENDING_APPROVAL, serving);
    for (const slot of this.slots) this.deliver(slot, event);
  }

  /** Sets the serving version without an event (startup, before anyone subscribes). */
  setServing(snapshot: ServingSnapshot): void {
    this.serving = snapshot;
  }

  /**
   * Registers a subscriber and sends it the serving version (CURRENT) first. Refuses
   * (returns undefined) when no version serves yet or the broadcaster closed.
   */
  subscribe(subscriber: VersionSubscriber): Subscription | undefined {
    const serving = this.serving;
    if (serving === undefined || this.closedReason !== undefined) return undefined;
    const slot: Slot = { subscriber, lagging: false, latest: undefined, closed: false };
    this.slots.add(slot);
    this.ensureHeartbeat();
    this.deliver(slot, this.event(ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT, serving));
    return {
      unsubscribe: () => {
        slot.closed = true;
        slot.latest = undefined;
        this.slots.delete(slot);
        if (this.slots.size === 0) this.stopHeartbeat();
      },
    };
  }

  /** Announces a promotion or rollback to every subscriber. */
  publish(
    kind:
      | ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED
      | ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_ROLLED_BACK,
    snapshot: ServingSnapshot,
  ): void {
    this.serving = snapshot;
    const event = this.event(kind, snapshot);
    for (const slot of this.slots) this.deliver(slot, event);
  }

  /** Sends a heartbeat to every subscriber that is keeping up (called by the timer). */
  sendHeartbeat(): void {
    const serving = this.serving;
    if (serving === undefined) return;
    const event = this.event(ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT, serving);
    for (const slot of this.slots) {
      if (slot.lagging) this.heartbeatsSkipped++;
      else this.deliver(slot, event);
    }
  }

  stats(): BroadcasterStats {
    let lagging = 0;
    for (const slot of this.slots) if (slot.lagging) lagging++;
    return {
      subscribers: this.slots.size,
      lagging,
      coalesced: this.coalesced,
      heartbeatsSkipped: this.heartbeatsSkipped,
    };
  }

  /** Ends every stream (the server is shutting down) and refuses new subscribers. */
  close(reason: string): void {
    this.closedReason = reason;
    this.stopHeartbeat();
    for (const slot of [...this.slots]) {
      slot.closed = true;
      slot.latest = undefined;
      this.slots.delete(slot);
      slot.subscriber.close(reason);
    }
  }

  private deliver(slot: Slot, event: WatchModelVersionsResponse): void {
    if (slot.closed) return;
    if (slot.lagging) {
      if (slot.latest !== undefined) this.coalesced++;
      slot.latest = event;
      return;
    }
    if (slot.subscriber.send(event)) return;
    slot.lagging = true;
    slot.subscriber.onDrain(() => {
      slot.lagging = false;
      const held = slot.latest;
      slot.latest = undefined;
      if (held !== undefined) this.deliver(slot, held);
    });
    this.options.onLagging?.(this.stats());
  }

  private event(kind: ModelVersionEventKind, serving: ServingSnapshot): WatchModelVersionsResponse {
    return {
      kind,
      modelVersion: serving.modelVersion,
      sha256: serving.sha256,
      metrics:
        kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT ? undefined : serving.metrics,
      sentAt: new Date(this.now()),
      heartbeatIntervalMs: this.options.heartbeatIntervalMs,
      trainedOnSyntheticData: serving.synthetic,
      pendingVersion: this.pendingVersion,
    };
  }

  private ensureHeartbeat(): void {
    if (this.heartbeat !== undefined) return;
    this.heartbeat = setInterval(() => this.sendHeartbeat(), this.options.heartbeatIntervalMs);
    this.heartbeat.unref();
  }

  private stopHeartbeat(): void {
    if (this.heartbeat !== undefined) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }
}
