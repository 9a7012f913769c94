/**
 * Follows RetrainService.WatchModelVersions for as long as the page is open. The stream is
 * the only way the page learns of a promotion, so when it drops (server restart, proxy
 * timeout, lost network) it is reopened with backoff and `after_version` set to the last
 * version seen; a stream that goes silent for several heartbeat intervals counts as dropped.
 */
import { Backoff, delay } from "./backoff.js";
import { ModelVersionEventKind, type WatchModelVersionsResponse } from "./gen/liver/v1/retrain_service.js";
import { GrpcCode, GrpcWebError, toGrpcWebError } from "./grpc-status.js";

/** Opens one stream; LiverApi.watchModelVersions fits. */
export type OpenVersionStream = (
  afterVersion: string,
  signal: AbortSignal,
) => AsyncIterable<WatchModelVersionsResponse>;

/** What the watcher reports. */
export interface VersionWatchListener {
  /** The first message of a (re)opened stream arrived. */
  onConnected(): void;
  /**
   * The serving version is `event.modelVersion` (CURRENT, PROMOTED or ROLLED_BACK; also a
   * heartbeat naming a version other than the last one seen, so a missed event self-heals).
   */
  onVersion(event: WatchModelVersionsResponse, previousVersion: string): void;
  /** The stream failed or ended; the watcher retries after `retryInMs`. */
  onDisconnected(error: GrpcWebError, retryInMs: number): void;
}

/** Tuning; defaults suit a page. */
export interface VersionWatcherOptions {
  readonly backoff?: Backoff;
  /** Silence allowed before the first message tells the heartbeat interval (default 30 s). */
  readonly initialIdleTimeoutMs?: number;
  /** Silence allowed, in heartbeat intervals, before the stream is presumed dead (default 3). */
  readonly heartbeatsMissed?: number;
}

/** Keeps one WatchModelVersions stream open, reconnecting with after_version. */
export class ModelVersionWatcher {
  private readonly stopController = new AbortController();
  private readonly backoff: Backoff;
  private readonly initialIdleTimeoutMs: number;
  private readonly heartbeatsMissed: number;
  private version = "";
  private running: Promise<void> | undefined;

  constructor(
    private readonly open: OpenVersionStream,
    private readonly listener: VersionWatchListener,
    options: VersionWatcherOptions = {},
  ) {
    this.backoff = options.backoff ?? new Backoff();
    this.initialIdleTimeoutMs = options.initialIdleTimeoutMs ?? 30_000;
    this.heartbeatsMissed = options.heartbeatsMissed ?? 3;
  }

  /** The last serving version seen; "" before the first event. */
  get lastVersion(): string {
    return this.version;
  }

  /** Starts following the stream (idempotent). */
  start(): void {
    this.running ??= this.run();
  }

  /** Closes the stream for good; resolves once the loop has exited. */
  async stop(): Promise<void> {
    this.stopController.abort();
    await this.running;
  }

  private isStopped(): boolean {
    return this.stopController.signal.aborted;
  }

  private async run(): Promise<void> {
    const stopped = this.stopController.signal;
    while (!stopped.aborted) {
      const error = await this.follow(stopped);
      if (this.isStopped()) return;
      if (error.code === GrpcCode.NOT_FOUND && this.version !== "") {
        // The server no longer knows our version (its registry was reset): start afresh.
        this.version = "";
      }
      const wait = this.backoff.next();
      this.listener.onDisconnected(error, wait);
      await delay(wait, stopped);
    }
  }

  /** Reads one stream until it fails; returns why it ended. */
  private async follow(stopped: AbortSignal): Promise<GrpcWebError> {
    const call = new AbortController();
    const onStop = (): void => call.abort();
    stopped.addEventListener("abort", onStop, { once: true });
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let idleMs = this.initialIdleTimeoutMs;
    const idle = new Error("idle");
    const armIdle = (): void => {
      clearTimeout(idleTimer);
      idleTimer = setTimeout(() => {
        call.abort(idle);
      }, idleMs);
    };
    const path = "/liver.v1.RetrainService/WatchModelVersions";
    let first = true;
    try {
      armIdle();
      for await (const event of this.open(this.version, call.signal)) {
        if (event.heartbeatIntervalMs > 0) idleMs = event.heartbeatIntervalMs * this.heartbeatsMissed;
        armIdle();
        if (first) {
          first = false;
          this.backoff.reset();
          this.listener.onConnected();
        }
        const isHeartbeat = event.kind === ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT;
        const changed = event.modelVersion !== "" && event.modelVersion !== this.version;
        if (!isHeartbeat || changed) {
          const previous = this.version;
          if (event.modelVersion !== "") this.version = event.modelVersion;
          this.listener.onVersion(event, previous);
        }
      }
      return new GrpcWebError(GrpcCode.UNAVAILABLE, "the version stream ended; reconnecting", path);
    } catch (error) {
      if (call.signal.reason === idle) {
        return new GrpcWebError(
          GrpcCode.UNAVAILABLE,
          `no message on the version stream for ${Math.round(idleMs / 1000)} s; reconnecting`,
          path,
        );
      }
      return toGrpcWebError(error, path);
    } finally {
      clearTimeout(idleTimer);
      stopped.removeEventListener("abort", onStop);
      call.abort();
    }
  }
}
