/**
 * The serving model version in the page header, fed by the version stream so it changes the
 * moment a version is promoted, without a reload. It also says whether it is live or
 * reconnecting, so a stale version is never shown as current without warning.
 */
import { h } from "./dom.js";

/** Connection state of the stream behind the badge. */
export type BadgeState = "connecting" | "live" | "reconnecting";

const STATE_TEXT: Readonly<Record<BadgeState, string>> = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
};

/** The header badge. */
export class VersionBadge {
  private readonly version = h("strong", { class: "badge-version" }, "–");
  private readonly state = h("span", { class: "badge-state" });
  private readonly change = h("span", { class: "badge-change" });

  constructor(private readonly element: HTMLElement) {
    element.replaceChildren(
      h("span", { class: "badge-label" }, "Model "),
      this.version,
      " ",
      this.state,
      this.change,
    );
    this.setState("connecting");
  }

  /** Shows a version; `previous` (when different) is mentioned so the change is noticed. */
  setVersion(version: string, previous: string): void {
    this.version.textContent = version === "" ? "none" : version;
    this.element.dataset["version"] = version;
    this.change.textContent = previous !== "" && previous !== version ? ` (updated from ${previous})` : "";
  }

  /** Shows whether the stream is connected. */
  setState(state: BadgeState, detail = ""): void {
    this.element.dataset["state"] = state;
    this.state.textContent = STATE_TEXT[state];
    this.state.title = detail;
  }
}
