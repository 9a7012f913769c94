/**
 * The bridge's retry of idempotent unary calls, as Envoy's route retry policy does for
 * SubmitFeedback (its token makes a repeat a `duplicate`, never a second row): a call that
 * ends UNAVAILABLE (the Retrain restarting, a dropped connection) is started again after a
 * short backoff while its deadline leaves room, up to a few attempts. Retries are throttled
 * as gRPC's retry policy throttles them (a token bucket: each failure costs a token, each
 * success earns a tenth, retries only while more than half remain), so an outage does not
 * multiply the load on the one Retrain replica when it comes back. Unary only: the answer
 * is held until the call's status is known, so nothing of a failed attempt reaches the browser.
 */
import { status as Status } from "@grpc/grpc-js";
import type {
  GrpcUpstream,
  UpstreamCall,
  UpstreamListener,
  UpstreamRequest,
  UpstreamStatus,
} from "./grpc-upstream.js";

/** Retry settings; the defaults match the Envoy route's. */
export interface RetryPolicy {
  /** Attempts in all, the first included (default 4: three retries). */
  readonly maxAttempts: number;
  /** Backoff before the first retry, doubled each time up to `maxBackoffMs`. */
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** Three retries, 250 ms doubling to 2 s: about 1.75 s of backoff, inside a 10 s deadline. */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxAttempts: 4,
  initialBackoffMs: 250,
  maxBackoffMs: 2000,
};

/** gRPC's retry throttling: a token bucket per upstream (maxTokens 10, tokenRatio 0.1). */
export class RetryThrottle {
  private tokens: number;

  constructor(
    private readonly maxTokens = 10,
    private readonly tokenRatio = 0.1,
  ) {
    this.tokens = maxTokens;
  }

  /** A call failed with a retryable status; true when a retry is still allowed. */
  failed(): boolean {
    this.tokens = Math.max(0, this.tokens - 1);
    return this.tokens > this.maxTokens / 2;
  }

  /** A call succeeded (or failed for a reason a retry would not change). */
  succeeded(): void {
    this.tokens = Math.min(this.maxTokens, this.tokens + this.tokenRatio);
  }
}

/** Starts `request` on `upstream`, retrying UNAVAILABLE within the deadline and the throttle. */
export function callWithRetries(
  upstream: GrpcUpstream,
  request: UpstreamRequest,
  listener: UpstreamListener,
  throttle: RetryThrottle,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  now: () => number = () => performance.now(),
): UpstreamCall {
  return new RetryingCall(upstream, request, listener, throttle, policy, now);
}

class RetryingCall implements UpstreamCall {
  private current: UpstreamCall | undefined;
  private timer: NodeJS.Timeout | undefined;
  private cancelled = false;
  private attempts = 0;
  private readonly started: number;

  constructor(
    private readonly upstream: GrpcUpstream,
    private readonly request: UpstreamRequest,
    private readonly listener: UpstreamListener,
    private readonly throttle: RetryThrottle,
    private readonly policy: RetryPolicy,
    private readonly now: () => number,
  ) {
    this.started = now();
    this.attempt();
  }

  cancel(): void {
    this.cancelled = true;
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.listener.onStatus({ code: Status.CANCELLED, details: "Cancelled on client", metadata: [] });
    }
    this.current?.cancel();
  }

  pause(): void {
    this.current?.pause();
  }

  resume(): void {
    this.current?.resume();
  }

  private attempt(): void {
    this.attempts++;
    const remaining = this.request.timeoutMs - (this.now() - this.started);
    let metadata: [string, string][] | undefined;
    const messages: Uint8Array[] = [];
    this.current = this.upstream.call(
      { ...this.request, timeoutMs: remaining },
      {
        onMetadata: (m) => (metadata = m),
        onMessage: (message) => messages.push(message),
        onStatus: (status) => {
          const wait = this.retryDelay(status);
          if (wait === undefined) {
            if (metadata !== undefined) this.listener.onMetadata(metadata);
            for (const message of messages) this.listener.onMessage(message);
            this.listener.onStatus(status);
            return;
          }
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.attempt();
          }, wait);
        },
      },
    );
  }

  /** Milliseconds to wait before another attempt, or undefined to report `status` as final. */
  private retryDelay(status: UpstreamStatus): number | undefined {
    if (status.code !== Status.UNAVAILABLE) {
      this.throttle.succeeded();
      return undefined;
    }
    if (!this.throttle.failed() || this.cancelled || this.attempts >= this.policy.maxAttempts)
      return undefined;
    const wait = Math.min(this.policy.maxBackoffMs, this.policy.initialBackoffMs * 2 ** (this.attempts - 1));
    const left = this.request.timeoutMs - (this.now() - this.started);
    // Another attempt needs time to connect and answer after the wait.
    return left > wait + 500 ? wait : undefined;
  }
}
