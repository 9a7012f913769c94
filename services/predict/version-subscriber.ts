import { type ClientReadableStream, type StatusObject, status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import { ModelVersionEventKind, type WatchModelVersionsResponse } from "../gen/liver/v1/retrain_service.js";
import type { RetrainConnection } from "./retrain-connection.js";

/** What the subscriber needs; everything time-related is injectable for tests. */
export interface VersionSubscriberOptions {
  readonly connection: RetrainConnection;
  readonly logger: Logger;
  /** Every event, heartbeats included, in stream order. */
  readonly onEvent: (event: WatchModelVersionsResponse) => void;
  /** Called when the stream starts or stops delivering events. */
  readonly onSubscribedChange?: (subscribed: boolean) => void;
  /** Called when a stream ends; `delivered` tells whether it sent any event. */
  readonly onStreamEnded?: (delivered: boolean, ended: StatusObject) => void;
  /** The version this replica has, sent as after_version when (re)connecting. */
  readonly afterVersion: () => string;
  /**
   * Silence after which the stream is presumed dead. The effective timeout is never below
   * three of the heartbeat intervals the server announces, so a slow heartbeat is no alarm.
   */
  readonly heartbeatTimeoutMs: number;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  /** Uniform in [0, 1); Math.random by default. */
  readonly random?: () => number;
}

/** Full jitter: uniform in [0, min(max, initial * 2^attempt)), so replicas never reconnect in step. */
export function backoffDelay(
  attempt: number,
  initialMs: number,
  maxMs: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Follows RetrainService.WatchModelVersions for as long as the replica lives: reconnects
 * after any end (Retrain restart, network cut, server shutdown) with jittered exponential
 * backoff and after_version, and a watchdog reopens the stream on a fresh channel when no
 * event (not even a heartbeat) arrives in time, because a silent peer never ends a stream.
 */
export class VersionSubscriber {
  private call: ClientReadableStream<WatchModelVersionsResponse> | undefined;
  private watchdog: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private running = false;
  private live = false;
  private announcedIntervalMs = 0;
  /** A version the server answered NOT_FOUND for; not sent as after_version again. */
  private unknownVersion: string | undefined;

  constructor(private readonly options: VersionSubscriberOptions) {}

  /** Whether the stream currently delivers events. */
  get subscribed(): boolean {
    return this.live;
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.open();
  }

  /** Ends the stream and stops reconnecting. */
  stop(): void {
    this.running = false;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    const call = this.call;
    this.call = undefined;
    call?.cancel();
    this.setLive(false);
  }

  private open(): void {
    if (!this.running) return;
    const resume = this.options.afterVersion();
    const afterVersion = resume === this.unknownVersion ? "" : resume;
    const call = this.options.connection.client.watchModelVersions({ afterVersion });
    this.call = call;
    let delivered = false;
    this.armWatchdog(call);
    call.on("data", (event: WatchModelVersionsResponse) => {
      if (call !== this.call) return;
      if (!delivered) {
        delivered = true;
        this.attempt = 0;
        this.options.logger.info(
          { afterVersion, modelVersion: event.modelVersion },
          "version stream open: receiving model version events",
        );
      }
      if (event.heartbeatIntervalMs > 0) this.announcedIntervalMs = event.heartbeatIntervalMs;
      this.armWatchdog(call);
      this.setLive(true);
      if (event.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_UNSPECIFIED) return;
      this.options.onEvent(event);
    });
    // 'status' always comes last, for every ending; 'error' would otherwise be unhandled.
    call.on("error", () => undefined);
    call.on("status", (ended: StatusObject) => {
      if (call !== this.call) return;
      this.call = undefined;
      clearTimeout(this.watchdog);
      this.setLive(false);
      if (ended.code === status.NOT_FOUND && afterVersion !== "") this.unknownVersion = afterVersion;
      this.options.onStreamEnded?.(delivered, ended);
      this.scheduleReconnect(ended, afterVersion);
    });
  }

  private scheduleReconnect(ended: StatusObject, afterVersion: string): void {
    if (!this.running) return;
    const delay = backoffDelay(
      this.attempt,
      this.options.reconnectInitialMs,
      this.options.reconnectMaxMs,
      this.options.random,
    );
    this.attempt++;
    // The first failure is news; retry after retry of a long outage is not (every 10th is kept).
    const level = this.attempt === 1 || this.attempt % 10 === 0 ? "warn" : "debug";
    this.options.logger[level](
      {
        code: status[ended.code],
        details: ended.details,
        afterVersion,
        attempt: this.attempt,
        delayMs: delay,
      },
      `version stream ended (${status[ended.code]}: ${ended.details}); reconnecting in ${delay} ms`,
    );
    this.retryTimer = setTimeout(() => this.open(), delay);
  }

  private armWatchdog(call: ClientReadableStream<WatchModelVersionsResponse>): void {
    clearTimeout(this.watchdog);
    const timeoutMs = Math.max(this.options.heartbeatTimeoutMs, 3 * this.announcedIntervalMs);
    this.watchdog = setTimeout(() => {
      if (call !== this.call) return;
      this.options.logger.warn(
        { timeoutMs },
        `version stream silent for ${timeoutMs} ms (no heartbeat): reopening it on a new channel`,
      );
      this.options.connection.reset();
      call.cancel();
    }, timeoutMs);
  }

  private setLive(live: boolean): void {
    if (live === this.live) return;
    this.live = live;
    this.options.onSubscribedChange?.(live);
  }
}
