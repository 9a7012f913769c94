/**
 * "A change waits for review": when a candidate version waits for an admin's approval
 * (PENDING_APPROVAL), clinicians see that their answers still come from the serving version;
 * an admin signed in with the admin role also sees the evidence (how many answers change
 * class, per site and slice, against the last approved version, and the feedback behind it)
 * with Approve and Reject buttons. The gateway forwards the two decisions only for a
 * verified admin-role token, and RetrainService checks the role again.
 */
import { h } from "./dom.js";
import {
  ModelVersionStatus,
  type ApprovalReview,
  type FeedbackSummary,
  type ModelVersion,
  type ServedClassChange,
} from "./gen/liver/v1/model.js";
import type { Whoami } from "./signed-in-user.js";
import { toGrpcWebError } from "./grpc-status.js";

/** The two decisions, as the page sends them (LiverApi). */
export interface ApprovalActions {
  approve(modelVersion: string, reason: string): Promise<unknown>;
  reject(modelVersion: string, reason: string): Promise<unknown>;
}

/** Longest reason RetrainService accepts. */
export const MAX_DECISION_REASON = 200;

/** The waiting candidate of a ListModelVersions answer; undefined when none waits. */
export function pendingVersion(versions: readonly ModelVersion[]): ModelVersion | undefined {
  return versions.find((v) => v.status === ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL);
}

const pct = (share: number): string => `${(100 * share).toFixed(1)} %`;

/** The clinicians' sentence: what waits, and what they are answered meanwhile. */
export function clinicianNotice(pending: ModelVersion, servingVersion: string): string {
  const serving = servingVersion === "" ? "the serving version" : servingVersion;
  return `A model change (${pending.modelVersion}) waits for review by an administrator. Until it is approved, answers keep coming from ${serving}.`;
}

/** The changes worth a person's eye first: those over the bound, then the largest shares. */
export function rankedChanges(review: ApprovalReview): ServedClassChange[] {
  return [...review.changes].sort(
    (a, b) => Number(b.exceeds) - Number(a.exceeds) || b.share - a.share || a.slice.localeCompare(b.slice),
  );
}

/** Who sent the feedback behind the change, and over what time, in one line. */
export function feedbackLine(feedback: FeedbackSummary | undefined): string {
  if (feedback === undefined || feedback.rows === 0)
    return "No new labelled feedback since the approved version.";
  const span =
    feedback.firstReceivedAt === undefined || feedback.lastReceivedAt === undefined
      ? ""
      : `, received ${feedback.firstReceivedAt.toISOString()} to ${feedback.lastReceivedAt.toISOString()}`;
  const principals =
    feedback.principalCount === 0
      ? "no signed-in principal"
      : `${feedback.principalCount} signed-in principal(s)`;
  return `${feedback.rows} labelled feedback(s) from ${feedback.sourceCount} source(s) and ${principals}${span}.`;
}

/** Checks a reason as RetrainService will; undefined when it is acceptable. */
export function reasonProblem(reason: string): string | undefined {
  if (reason.trim() === "") return "Say why (for the registry and the audit log).";
  if (reason.length > MAX_DECISION_REASON) return `At most ${MAX_DECISION_REASON} characters.`;
  return undefined;
}

/** The panel; hidden while no candidate waits. */
export class PendingApprovalPanel {
  private viewer: Whoami = { signedIn: false };
  private shown: { versions: readonly ModelVersion[]; serving: string } = { versions: [], serving: "" };
  private busy = false;

  constructor(
    private readonly element: HTMLElement,
    private readonly actions: ApprovalActions,
    /** Called after a decision was recorded: reload the versions. */
    private readonly onDecided: () => void,
  ) {}

  /** Who is looking: admins get the evidence and the buttons. */
  setViewer(who: Whoami): void {
    this.viewer = who;
    this.render(this.shown.versions, this.shown.serving);
  }

  render(versions: readonly ModelVersion[], servingVersion: string): void {
    this.shown = { versions, serving: servingVersion };
    if (this.busy) return;
    const pending = pendingVersion(versions);
    if (pending === undefined) {
      this.element.hidden = true;
      this.element.replaceChildren();
      return;
    }
    const children: Node[] = [
      h("h2", {}, "A change waits for review"),
      h("p", { class: "pending-notice" }, clinicianNotice(pending, servingVersion)),
    ];
    if (this.viewer.signedIn && this.viewer.admin === true) children.push(this.adminView(pending));
    this.element.replaceChildren(...children);
    this.element.dataset["pendingVersion"] = pending.modelVersion;
    this.element.hidden = false;
  }

  private adminView(pending: ModelVersion): HTMLElement {
    const review = pending.approval;
    const rows = review === undefined ? [] : rankedChanges(review);
    const table = h(
      "table",
      { class: "approval-evidence" },
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", {}, "Site"),
          h("th", {}, "Patients"),
          h("th", {}, "Rows"),
          h("th", {}, "Answered another class"),
        ),
      ),
      h(
        "tbody",
        {},
        ...rows.map((c) =>
          h(
            "tr",
            {
              class: c.exceeds ? "exceeds" : c.judged ? "" : "not-judged",
              "data-slice": c.slice,
              "data-site": c.site,
            },
            h("td", {}, c.site),
            h("td", {}, c.slice),
            h("td", {}, String(c.rows)),
            h("td", {}, `${c.changed} (${pct(c.share)})${c.judged ? "" : " · not judged"}`),
          ),
        ),
      ),
    );
    const sources = review?.feedback?.sources ?? [];
    const principals = review?.feedback?.principals ?? [];
    const reason = h("textarea", {
      id: "approval-reason",
      maxlength: MAX_DECISION_REASON,
      rows: 2,
      placeholder: "Why (required; stored with the version and in the audit log)",
    });
    const message = h("p", { class: "approval-message", role: "status" });
    const approve = h(
      "button",
      { type: "button", id: "approve-button", class: "approve" },
      `Approve ${pending.modelVersion}`,
    );
    const reject = h(
      "button",
      { type: "button", id: "reject-button", class: "reject" },
      `Reject ${pending.modelVersion}`,
    );
    const decide = async (kind: "approve" | "reject"): Promise<void> => {
      const problem = reasonProblem(reason.value);
      if (problem !== undefined) {
        message.textContent = problem;
        return;
      }
      this.busy = true;
      approve.disabled = true;
      reject.disabled = true;
      message.textContent = kind === "approve" ? "Approving…" : "Rejecting…";
      try {
        await this.actions[kind](pending.modelVersion, reason.value);
        message.textContent =
          kind === "approve"
            ? `${pending.modelVersion} approved; it serves now.`
            : `${pending.modelVersion} rejected.`;
        this.element.dataset["decided"] = kind;
        this.busy = false;
        this.onDecided();
      } catch (error) {
        const failure = toGrpcWebError(error, "");
        message.textContent = `Not recorded: ${failure.message}`;
        this.busy = false;
        approve.disabled = false;
        reject.disabled = false;
      }
    };
    approve.addEventListener("click", () => void decide("approve"));
    reject.addEventListener("click", () => void decide("reject"));
    return h(
      "div",
      { class: "approval-admin" },
      h(
        "p",
        {},
        `Compared with approved ${review?.approvedVersion === "" || review === undefined ? "(none)" : review.approvedVersion}: more than ${pct(review?.maxClassChange ?? 0)} of a population or slice answered another class needs your decision. ${pending.reason}`,
      ),
      table,
      h("p", { class: "approval-feedback" }, feedbackLine(review?.feedback)),
      h(
        "ul",
        { class: "approval-sources" },
        ...sources.map((s) => h("li", {}, `${s.source}: ${s.rows}`)),
        ...(principals.length === 0 ? [] : [h("li", {}, `Principals: ${principals.join(", ")}`)]),
      ),
      reason,
      h("div", { class: "approval-buttons" }, approve, reject),
      message,
    );
  }
}
