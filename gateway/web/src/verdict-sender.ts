/**
 * Delivers the outbox's verdicts: each is sent with a deadline, and sent again with backoff
 * until the server acknowledges it (stored, or duplicate: an earlier attempt got through,
 * which SubmitFeedback's one-verdict-per-token rule makes safe) or refuses it for good.
 * Only verdicts given under the session's current principal are sent, so one clinician's
 * queued verdict never goes out with another's session. The sender reports its state as a
 * snapshot that the outbox panel turns into words.
 */
import { Backoff, delay } from "./backoff.js";
import type { FeedbackVerdict, SubmitFeedbackResponse } from "./gen/liver/v1/retrain_service.js";
import { GrpcCode, GrpcWebError, toGrpcWebError } from "./grpc-status.js";
import type { QueuedVerdict, RefusedVerdict, VerdictOutbox } from "./verdict-outbox.js";

const SUBMIT_PATH = "/liver.v1.RetrainService/SubmitFeedback";

/**
 * Deadline of one attempt. Shorter than the gateways' 10 s route timeout so a frozen
 * Retrain turns "Sending…" into "waiting to be sent" within seconds; a later attempt
 * follows anyway.
 */
export const ATTEMPT_DEADLINE_MS = 5000;

/** Sends one verdict within `timeoutMs`; LiverApi.submitFeedback fits. */
export type SendVerdict = (
  feedbackToken: string,
  verdict: FeedbackVerdict,
  timeoutMs: number,
) => Promise<SubmitFeedbackResponse>;

/** The session's principal ("" when nobody is signed in or sign-in is off); undefined when unknown now. */
export type CurrentPrincipal = () => Promise<string | undefined>;

/** Codes that say the request itself can never succeed: the verdict is refused for good. */
const REFUSED_FOR_GOOD: ReadonlySet<number> = new Set([
  GrpcCode.INVALID_ARGUMENT,
  GrpcCode.PERMISSION_DENIED,
  GrpcCode.FAILED_PRECONDITION,
  GrpcCode.OUT_OF_RANGE,
  GrpcCode.ALREADY_EXISTS,
]);

/** Whether a failed attempt ends the verdict's journey (true) or is retried (false). */
export function isRefusedForGood(error: GrpcWebError): boolean {
  return REFUSED_FOR_GOOD.has(error.code);
}

/** Why verdicts are waiting, in words that complete "n verdicts waiting to be sent; ...". */
export function describeWaitReason(error: GrpcWebError): string {
  switch (error.code) {
    case GrpcCode.DEADLINE_EXCEEDED:
      return "the feedback service did not answer in time";
    case GrpcCode.UNAUTHENTICATED:
      return "your session has ended: sign in again to send them";
    case GrpcCode.RESOURCE_EXHAUSTED:
      return "the feedback service asked to slow down";
    // The page never cancels a send: a cancelled call is a connection the gateway lost.
    case GrpcCode.UNAVAILABLE:
    case GrpcCode.CANCELLED:
      return "the feedback service is unreachable";
    default:
      return "the feedback service failed to answer";
  }
}

/** What the sender is doing, for the page. */
export interface OutboxSnapshot {
  /** Verdicts of this session's principal not yet acknowledged. */
  readonly waiting: number;
  /** Verdicts given under another principal, kept until that clinician's session sends them. */
  readonly heldForOthers: number;
  /** An attempt is in flight. */
  readonly sending: boolean;
  /** Why the last attempt failed, when verdicts wait because of it (describeWaitReason). */
  readonly waitReason: string | undefined;
  /** The technical reason ("UNAVAILABLE: ..."). */
  readonly technical: string | undefined;
  /** When the next attempt starts (ms since the epoch); undefined while none is planned. */
  readonly nextAttemptAtMs: number | undefined;
  /**
   * Verdicts acknowledged after they had to wait (a failed attempt, or left by an earlier
   * page), since the queue was last empty: the page says they have gone.
   */
  readonly sentAfterWaiting: number;
  /** Refusals of this principal's verdicts not yet dismissed. */
  readonly refused: readonly RefusedVerdict[];
  /** False when the browser keeps no durable storage: verdicts last only while the page is open. */
  readonly durable: boolean;
}

/** A verdict the clicking page waits on. */
interface Waiter {
  readonly resolve: (response: SubmitFeedbackResponse) => void;
  readonly reject: (error: GrpcWebError) => void;
}

/** Tuning and clock; defaults suit a page. */
export interface VerdictSenderOptions {
  readonly backoff?: Backoff;
  readonly now?: () => number;
}

/** Sends the outbox's verdicts until each is acknowledged or refused. */
export class VerdictSender {
  private readonly backoff: Backoff;
  private readonly now: () => number;
  private readonly waiters = new Map<string, Waiter>();
  private readonly listeners = new Set<(snapshot: OutboxSnapshot) => void>();
  private running = false;
  /** Set by wake(); ends the current wait early. */
  private wakeUp = new AbortController();
  private principal: string | undefined;
  private sending = false;
  private lastFailure: GrpcWebError | undefined;
  private nextAttemptAtMs: number | undefined;
  private sentAfterWaiting = 0;
  /** Some verdict of the current batch had to wait. */
  private waited = false;

  constructor(
    private readonly outbox: VerdictOutbox,
    private readonly send: SendVerdict,
    private readonly currentPrincipal: CurrentPrincipal,
    options: VerdictSenderOptions = {},
  ) {
    this.backoff = options.backoff ?? new Backoff({ initialMs: 1000, maxMs: 8000 });
    this.now = options.now ?? Date.now;
  }

  /**
   * Records a verdict in the outbox, then sends it. Resolves with the acknowledgement
   * (perhaps after many attempts, or from another tab); rejects only when the server refused
   * it for good.
   */
  async submit(
    entry: Omit<QueuedVerdict, "attempts" | "principal" | "queuedAtMs">,
  ): Promise<SubmitFeedbackResponse> {
    const principal = (await this.currentPrincipal()) ?? this.principal;
    if (principal !== undefined) this.principal = principal;
    const settled = new Promise<SubmitFeedbackResponse>((resolve, reject) =>
      this.waiters.set(entry.predictionId, { resolve, reject }),
    );
    this.outbox.add({ ...entry, principal, queuedAtMs: this.now() });
    this.kick(false);
    return settled;
  }

  /** Whether a verdict on this prediction is still waiting (its buttons stay locked). */
  isWaiting(predictionId: string): boolean {
    return this.outbox.isQueued(predictionId);
  }

  /** Starts sending what earlier pages left in the outbox. */
  start(): void {
    if (this.outbox.queue().length > 0) this.waited = true;
    this.kick(false);
  }

  /**
   * Something suggests the service is back (it answered another call, the browser went
   * online, another tab changed the outbox): try now, starting the backoff over.
   */
  wake(): void {
    this.kick(true);
  }

  /** The clinician has read a refusal. */
  dismiss(predictionId: string): void {
    this.outbox.dismiss(predictionId);
    this.emit();
  }

  /** Called with a new snapshot whenever the state changes. */
  onChange(listener: (snapshot: OutboxSnapshot) => void): void {
    this.listeners.add(listener);
  }

  /** The current state. */
  snapshot(): OutboxSnapshot {
    const state = this.outbox.state();
    const principal = this.principal;
    // Before the principal is known, everything counts as this session's to wait for.
    const mine =
      principal === undefined ? state.queue : state.queue.filter((entry) => entry.principal === principal);
    const failure = mine.length > 0 ? this.lastFailure : undefined;
    return {
      waiting: mine.length,
      heldForOthers: state.queue.length - mine.length,
      sending: this.sending,
      waitReason: failure === undefined ? undefined : describeWaitReason(failure),
      technical: failure === undefined ? undefined : `(${failure.codeName}: ${failure.details})`,
      nextAttemptAtMs: mine.length > 0 ? this.nextAttemptAtMs : undefined,
      sentAfterWaiting: this.sentAfterWaiting,
      refused: state.refused.filter((r) => r.principal === principal),
      durable: this.outbox.durable,
    };
  }

  private kick(resetBackoff: boolean): void {
    if (resetBackoff) this.backoff.reset();
    this.wakeUp.abort();
    if (this.running) return;
    this.running = true;
    void this.run().finally(() => {
      this.running = false;
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      this.wakeUp = new AbortController();
      const known = await this.currentPrincipal();
      if (known !== undefined) this.principal = known;
      const principal = this.principal;
      if (principal !== undefined) this.outbox.claimUnknown(principal);
      this.settleElsewhere();
      const mine = this.outbox.queue().filter((e) => e.principal === principal);
      if (principal !== undefined && mine.length === 0) {
        this.lastFailure = undefined;
        this.nextAttemptAtMs = undefined;
        this.emit();
        // Whatever was waiting has gone; the next batch counts afresh.
        this.sentAfterWaiting = 0;
        this.waited = false;
        return;
      }
      const failure =
        principal === undefined
          ? new GrpcWebError(GrpcCode.UNAVAILABLE, "the gateway cannot say who is signed in", SUBMIT_PATH)
          : await this.sendAll(mine);
      if (principal === undefined) this.lastFailure = failure;
      if (failure === undefined) {
        this.backoff.reset();
        continue;
      }
      const wait = this.backoff.next();
      this.nextAttemptAtMs = this.now() + wait;
      this.emit();
      await delay(wait, this.wakeUp.signal);
      this.nextAttemptAtMs = undefined;
    }
  }

  /** Sends each verdict in turn; stops at the first transient failure and returns it. */
  private async sendAll(entries: readonly QueuedVerdict[]): Promise<GrpcWebError | undefined> {
    for (const entry of entries) {
      if (!this.outbox.isQueued(entry.predictionId)) continue; // another tab sent it
      this.sending = true;
      this.emit();
      try {
        const response = await this.send(entry.feedbackToken, entry.verdict, ATTEMPT_DEADLINE_MS);
        this.outbox.acknowledge(entry.predictionId, response, this.now());
        if (this.waited) this.sentAfterWaiting++;
        this.lastFailure = undefined;
        this.waiters.get(entry.predictionId)?.resolve(response);
        this.waiters.delete(entry.predictionId);
      } catch (error) {
        const failure = toGrpcWebError(error, SUBMIT_PATH);
        if (!isRefusedForGood(failure)) {
          this.outbox.countAttempt(entry.predictionId);
          this.lastFailure = failure;
          this.waited = true;
          return failure;
        }
        this.outbox.refuse(entry, failure.codeName, failure.details, this.now());
        this.waiters.get(entry.predictionId)?.reject(failure);
        this.waiters.delete(entry.predictionId);
      } finally {
        this.sending = false;
        this.emit();
      }
    }
    return undefined;
  }

  /** Resolves waiters whose verdict another tab of this browser settled. */
  private settleElsewhere(): void {
    for (const [predictionId, waiter] of this.waiters) {
      if (this.outbox.isQueued(predictionId)) continue;
      const response = this.outbox.settledResponse(predictionId);
      const refusal = this.outbox.state().refused.find((r) => r.predictionId === predictionId);
      if (response !== undefined) waiter.resolve(response);
      else if (refusal !== undefined)
        waiter.reject(new GrpcWebError(codeNumber(refusal.codeName), refusal.details, SUBMIT_PATH));
      else continue;
      this.waiters.delete(predictionId);
    }
  }

  private emit(): void {
    const snapshot = this.snapshot();
    for (const listener of this.listeners) listener(snapshot);
  }
}

function codeNumber(name: string): number {
  const code = (GrpcCode as Readonly<Record<string, number>>)[name];
  return code ?? GrpcCode.UNKNOWN;
}
