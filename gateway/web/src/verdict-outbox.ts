/**
 * The page's durable record of verdicts not yet acknowledged by the feedback service. A
 * verdict is written here before it is sent and removed only when the server acknowledged it
 * (stored, or duplicate: an earlier attempt got through) or refused it for good, so a click
 * survives an outage, a reload and a closed tab. localStorage is enough: a few hundred bytes
 * per verdict, synchronous, kept per origin across sessions, and its `storage` event tells
 * other tabs of a change. IndexedDB would add an asynchronous API for no gain at this size.
 *
 * Alongside the queue it keeps refusals (until the clinician dismisses them, so a refusal
 * that happened while the tab was closed is still told) and recent acknowledgements (so a
 * tab learns what another tab of the same browser sent for it).
 */
import {
  FeedbackState,
  FeedbackVerdict,
  type SubmitFeedbackResponse,
} from "./gen/liver/v1/retrain_service.js";

/** The localStorage key; the value is an OutboxState as JSON. */
export const OUTBOX_STORAGE_KEY = "liver.verdict-outbox.v1";
/** Acknowledgements kept for other tabs; older ones are dropped first. */
const MAX_SETTLED = 50;

/** One verdict waiting for the server's acknowledgement. */
export interface QueuedVerdict {
  readonly predictionId: string;
  readonly feedbackToken: string;
  readonly verdict: FeedbackVerdict;
  /**
   * The gateway's principal of the session that clicked ("" with sign-in off). Only a session
   * of the same principal sends it: another clinician's session never does. Undefined when
   * the gateway could not say at the time; the next session that knows its principal claims
   * it (RetrainService still accepts it only from the principal the prediction was made for).
   */
  readonly principal: string | undefined;
  /** How the page names the prediction to the clinician, e.g. "72.9 % from model v3 (prediction 1a2b3c4d)". */
  readonly label: string;
  readonly queuedAtMs: number;
  /** Attempts that failed transiently so far. */
  readonly attempts: number;
}

/** A verdict the server refused for good, kept until the clinician has read it. */
export interface RefusedVerdict {
  readonly predictionId: string;
  readonly verdict: FeedbackVerdict;
  readonly principal: string;
  readonly label: string;
  /** The gRPC status code name and the server's message. */
  readonly codeName: string;
  readonly details: string;
  readonly refusedAtMs: number;
  /** Attempts that had failed before: one of them may have been stored without an answer. */
  readonly earlierAttempts: number;
}

/** An acknowledgement, kept briefly so the tab that clicked learns of it when another tab sent it. */
export interface SettledVerdict {
  readonly predictionId: string;
  readonly response: SubmitFeedbackResponse;
  readonly settledAtMs: number;
}

/** Everything the outbox keeps. */
export interface OutboxState {
  readonly queue: readonly QueuedVerdict[];
  readonly refused: readonly RefusedVerdict[];
  readonly settled: readonly SettledVerdict[];
}

/** The part of the Web Storage API the outbox uses; window.localStorage fits. */
export interface OutboxStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

const EMPTY: OutboxState = { queue: [], refused: [], settled: [] };

/**
 * The outbox over one storage. Every method reads the storage afresh, so changes made by
 * another tab are seen. When the storage refuses writes (disabled, full), the outbox keeps
 * its state in memory and says so through `durable`, so the page can tell the clinician that
 * a waiting verdict lasts only while the page is open.
 */
export class VerdictOutbox {
  private memory: OutboxState = EMPTY;
  private storageWorks: boolean;

  constructor(private readonly storage: OutboxStorage | undefined) {
    this.storageWorks = storage !== undefined;
    if (storage !== undefined) this.memory = this.read();
  }

  /** False when verdicts are kept only in this page's memory. */
  get durable(): boolean {
    return this.storageWorks;
  }

  /** The whole state, as stored now. */
  state(): OutboxState {
    if (this.storageWorks) this.memory = this.read();
    return this.memory;
  }

  /** Verdicts waiting, oldest first. */
  queue(): readonly QueuedVerdict[] {
    return this.state().queue;
  }

  /** Whether a verdict on this prediction is waiting. */
  isQueued(predictionId: string): boolean {
    return this.queue().some((entry) => entry.predictionId === predictionId);
  }

  /** Records a verdict before it is sent; a second verdict on the same prediction is ignored. */
  add(entry: Omit<QueuedVerdict, "attempts">): void {
    this.update((state) =>
      state.queue.some((queued) => queued.predictionId === entry.predictionId)
        ? state
        : { ...state, queue: [...state.queue, { ...entry, attempts: 0 }] },
    );
  }

  /** Gives verdicts recorded while the principal was unknown to `principal`. */
  claimUnknown(principal: string): void {
    if (!this.queue().some((entry) => entry.principal === undefined)) return;
    this.update((state) => ({
      ...state,
      queue: state.queue.map((entry) => (entry.principal === undefined ? { ...entry, principal } : entry)),
    }));
  }

  /** Counts a transient failure against a waiting verdict. */
  countAttempt(predictionId: string): void {
    this.update((state) => ({
      ...state,
      queue: state.queue.map((entry) =>
        entry.predictionId === predictionId ? { ...entry, attempts: entry.attempts + 1 } : entry,
      ),
    }));
  }

  /** The server acknowledged it: out of the queue, into the recent acknowledgements. */
  acknowledge(predictionId: string, response: SubmitFeedbackResponse, nowMs: number): void {
    this.update((state) => ({
      ...state,
      queue: state.queue.filter((entry) => entry.predictionId !== predictionId),
      settled: [
        ...state.settled.filter((s) => s.predictionId !== predictionId),
        { predictionId, response, settledAtMs: nowMs },
      ].slice(-MAX_SETTLED),
    }));
  }

  /** The server refused it for good: out of the queue, kept as a refusal to tell. */
  refuse(entry: QueuedVerdict, codeName: string, details: string, nowMs: number): void {
    this.update((state) => ({
      ...state,
      queue: state.queue.filter((queued) => queued.predictionId !== entry.predictionId),
      refused: [
        ...state.refused.filter((r) => r.predictionId !== entry.predictionId),
        {
          predictionId: entry.predictionId,
          verdict: entry.verdict,
          principal: entry.principal ?? "",
          label: entry.label,
          codeName,
          details,
          refusedAtMs: nowMs,
          earlierAttempts: state.queue.find((q) => q.predictionId === entry.predictionId)?.attempts ?? 0,
        },
      ],
    }));
  }

  /** The clinician has read a refusal. */
  dismiss(predictionId: string): void {
    this.update((state) => ({
      ...state,
      refused: state.refused.filter((r) => r.predictionId !== predictionId),
    }));
  }

  /** The acknowledgement of a prediction's verdict, if one was recorded (by any tab). */
  settledResponse(predictionId: string): SubmitFeedbackResponse | undefined {
    return this.state().settled.find((s) => s.predictionId === predictionId)?.response;
  }

  private update(change: (state: OutboxState) => OutboxState): void {
    const next = change(this.state());
    this.memory = next;
    if (!this.storageWorks || this.storage === undefined) return;
    try {
      this.storage.setItem(OUTBOX_STORAGE_KEY, JSON.stringify(next));
    } catch {
      // Storage disabled or full: keep going in memory, and say so.
      this.storageWorks = false;
    }
  }

  private read(): OutboxState {
    let text: string | null;
    try {
      text = this.storage?.getItem(OUTBOX_STORAGE_KEY) ?? null;
    } catch {
      this.storageWorks = false;
      return this.memory;
    }
    return text === null ? EMPTY : parseOutboxState(text);
  }
}

/**
 * Reads a stored state defensively: the value may come from an older page or have been
 * edited, so each entry is checked and only well-formed ones are kept.
 */
export function parseOutboxState(text: string): OutboxState {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return EMPTY;
  }
  if (!isRecord(value)) return EMPTY;
  return {
    queue: arrayOf(value["queue"], toQueued),
    refused: arrayOf(value["refused"], toRefused),
    settled: arrayOf(value["settled"], toSettled),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function arrayOf<T>(value: unknown, convert: (item: Record<string, unknown>) => T | undefined): T[] {
  if (!Array.isArray(value)) return [];
  const items: T[] = [];
  for (const item of value as unknown[]) {
    const converted = isRecord(item) ? convert(item) : undefined;
    if (converted !== undefined) items.push(converted);
  }
  return items;
}

const VERDICTS: readonly FeedbackVerdict[] = [
  FeedbackVerdict.FEEDBACK_VERDICT_CORRECT,
  FeedbackVerdict.FEEDBACK_VERDICT_WRONG,
  FeedbackVerdict.FEEDBACK_VERDICT_UNKNOWN,
];
const STATES: readonly FeedbackState[] = [
  FeedbackState.FEEDBACK_STATE_UNSPECIFIED,
  FeedbackState.FEEDBACK_STATE_TRAINED,
  FeedbackState.FEEDBACK_STATE_QUARANTINED,
  FeedbackState.FEEDBACK_STATE_EXCLUDED,
  FeedbackState.FEEDBACK_STATE_UNLABELLED,
];
const verdictOf = (value: unknown): FeedbackVerdict | undefined => VERDICTS.find((v) => v === value);
const stateOf = (value: unknown): FeedbackState | undefined => STATES.find((v) => v === value);

const str = (value: unknown): value is string => typeof value === "string";
const num = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value);

function toQueued(r: Record<string, unknown>): QueuedVerdict | undefined {
  const { predictionId, feedbackToken, principal, label, queuedAtMs, attempts } = r;
  const verdict = verdictOf(r["verdict"]);
  if (!str(predictionId) || !str(feedbackToken) || verdict === undefined || !str(label)) return undefined;
  if (principal !== undefined && !str(principal)) return undefined;
  if (!num(queuedAtMs) || !num(attempts)) return undefined;
  return {
    predictionId,
    feedbackToken,
    verdict,
    principal,
    label,
    queuedAtMs,
    attempts,
  };
}

function toRefused(r: Record<string, unknown>): RefusedVerdict | undefined {
  const { predictionId, principal, label, codeName, details, refusedAtMs } = r;
  const earlierAttempts = num(r["earlierAttempts"]) ? r["earlierAttempts"] : 0;
  const verdict = verdictOf(r["verdict"]);
  if (!str(predictionId) || verdict === undefined || !str(principal) || !str(label) || !str(codeName))
    return undefined;
  if (!str(details) || !num(refusedAtMs)) return undefined;
  return {
    predictionId,
    verdict,
    principal,
    label,
    codeName,
    details,
    refusedAtMs,
    earlierAttempts,
  };
}

function toSettled(r: Record<string, unknown>): SettledVerdict | undefined {
  const { predictionId, response, settledAtMs } = r;
  if (!str(predictionId) || !isRecord(response) || !num(settledAtMs)) return undefined;
  const { feedbackId, retrainScheduled, duplicate, modelVersion, stateReason } = response;
  const state = stateOf(response["state"]);
  if (!str(feedbackId) || typeof retrainScheduled !== "boolean" || typeof duplicate !== "boolean")
    return undefined;
  if (!str(modelVersion) || state === undefined || !str(stateReason)) return undefined;
  return {
    predictionId,
    response: {
      feedbackId,
      retrainScheduled,
      duplicate,
      modelVersion,
      state,
      stateReason,
    },
    settledAtMs,
  };
}
