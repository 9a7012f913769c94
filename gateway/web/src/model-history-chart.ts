/**
 * Model versions over time with their holdout AUC, as inline SVG (no chart library: the
 * page's JavaScript budget is small). Served and retired versions are joined by a line,
 * rejected candidates stand apart, and the same data is offered as a table for screen
 * readers and keyboard users.
 */
import { h, s } from "./dom.js";
import { type ModelVersion, ModelVersionStatus } from "./gen/liver/v1/model.js";
import { formatClock } from "./time-format.js";

/** One plotted version. */
export interface ChartPoint {
  readonly version: string;
  readonly status: ModelVersionStatus;
  readonly auc: number;
  readonly createdAt: Date;
  readonly x: number;
  readonly y: number;
}

/** A labelled tick on an axis. */
export interface ChartTick {
  readonly position: number;
  readonly label: string;
}

/** Everything needed to draw the chart, in SVG user units. */
export interface ChartLayout {
  readonly width: number;
  readonly height: number;
  readonly plot: {
    readonly left: number;
    readonly right: number;
    readonly top: number;
    readonly bottom: number;
  };
  /** Oldest first. */
  readonly points: readonly ChartPoint[];
  /** Path through the versions that passed the gate, oldest first; "" with fewer than two. */
  readonly linePath: string;
  readonly yTicks: readonly ChartTick[];
  readonly xTicks: readonly ChartTick[];
}

const MARGIN = { left: 52, right: 20, top: 22, bottom: 34 };

/**
 * Scales versions with metrics and a creation time into the plot. The AUC axis covers the
 * data plus a margin, in steps of 0.05, clamped to 0 to 1, so small gains stay visible.
 */
export function layoutHistoryChart(
  versions: readonly ModelVersion[],
  width = 640,
  height = 240,
): ChartLayout {
  const plot = {
    left: MARGIN.left,
    right: width - MARGIN.right,
    top: MARGIN.top,
    bottom: height - MARGIN.bottom,
  };
  const data = versions
    .filter(
      (v): v is ModelVersion & { metrics: NonNullable<ModelVersion["metrics"]>; createdAt: Date } =>
        v.metrics !== undefined && v.createdAt !== undefined && Number.isFinite(v.metrics.rocAuc),
    )
    .map((v) => ({
      version: v.modelVersion,
      status: v.status,
      auc: v.metrics.rocAuc,
      createdAt: v.createdAt,
    }))
    .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
  if (data.length === 0) return { width, height, plot, points: [], linePath: "", yTicks: [], xTicks: [] };

  const aucs = data.map((d) => d.auc);
  const step = 0.05;
  // The epsilon keeps 0.60 / 0.05 = 11.999... from flooring a whole step too low.
  let yMin = Math.max(0, Math.floor((Math.min(...aucs) - 0.02) / step + 1e-9) * step);
  let yMax = Math.min(1, Math.ceil((Math.max(...aucs) + 0.02) / step - 1e-9) * step);
  if (yMax - yMin < 2 * step) {
    yMin = Math.max(0, yMin - step);
    yMax = Math.min(1, yMax + step);
  }
  const times = data.map((d) => d.createdAt.getTime());
  let tMin = Math.min(...times);
  let tMax = Math.max(...times);
  if (tMax - tMin < 1000) {
    tMin -= 30_000;
    tMax += 30_000;
  } else {
    // Keep the first and last points off the axes.
    const pad = (tMax - tMin) * 0.05;
    tMin -= pad;
    tMax += pad;
  }
  const xOf = (t: number): number => plot.left + ((t - tMin) / (tMax - tMin)) * (plot.right - plot.left);
  const yOf = (auc: number): number =>
    plot.bottom - ((auc - yMin) / (yMax - yMin)) * (plot.bottom - plot.top);
  const round = (n: number): number => Math.round(n * 10) / 10;

  const points = data.map((d) => ({ ...d, x: round(xOf(d.createdAt.getTime())), y: round(yOf(d.auc)) }));
  // Rejected and waiting versions never served: the line joins only those that did.
  const served = points.filter(
    (p) =>
      p.status !== ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED &&
      p.status !== ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL,
  );
  const linePath =
    served.length < 2 ? "" : served.map((p, i) => `${i === 0 ? "M" : "L"}${p.x},${p.y}`).join(" ");

  const yTicks: ChartTick[] = [];
  const tickStep = yMax - yMin > 0.3 ? 0.1 : step;
  for (let v = Math.ceil(yMin / tickStep - 1e-9) * tickStep; v <= yMax + 1e-9; v += tickStep) {
    yTicks.push({ position: round(yOf(v)), label: v.toFixed(2) });
  }
  const now = new Date(tMax);
  const xTicks: ChartTick[] = [0, 1 / 3, 2 / 3, 1]
    .map((f) => {
      const t = tMin + f * (tMax - tMin);
      return { position: round(xOf(t)), label: formatClock(new Date(t), now) };
    })
    // Over a span of seconds, neighbouring ticks can round to the same label: show it once.
    .filter((tick, i, all) => i === 0 || tick.label !== all[i - 1]?.label);
  return { width, height, plot, points, linePath, yTicks, xTicks };
}

const STATUS_TEXT: Readonly<Record<number, string>> = {
  [ModelVersionStatus.MODEL_VERSION_STATUS_SERVING]: "serving",
  [ModelVersionStatus.MODEL_VERSION_STATUS_RETIRED]: "retired",
  [ModelVersionStatus.MODEL_VERSION_STATUS_REJECTED]: "rejected",
  [ModelVersionStatus.MODEL_VERSION_STATUS_PENDING_APPROVAL]: "waits for approval",
};

/** "serving", "retired", "rejected", "waits for approval". */
export function statusText(status: ModelVersionStatus): string {
  return STATUS_TEXT[status] ?? "unknown";
}

/** The chart section: SVG, legend and table. */
export class ModelHistoryChart {
  private readonly figure = h("figure", { class: "history" });

  constructor(private readonly container: HTMLElement) {
    container.replaceChildren(h("p", { class: "muted", role: "status" }, "Loading the model history…"));
  }

  /** Shows a failure to load (the previous chart, if any, stays with a note above it). */
  showError(text: string): void {
    const note = h("p", { class: "error", role: "status" }, text);
    this.container.replaceChildren(note, this.figure);
  }

  /** Draws the versions (newest first, as ListModelVersions returns them). */
  render(versions: readonly ModelVersion[], serving: string): void {
    const wasOpen = this.figure.querySelector("details")?.open === true;
    const layout = layoutHistoryChart(versions);
    const servingPoint = layout.points.find((p) => p.version === serving);
    const summary =
      layout.points.length === 0
        ? "No model versions with metrics yet."
        : `${versions.length} version${versions.length === 1 ? "" : "s"}; serving ${serving || "none"}${
            servingPoint === undefined
              ? ""
              : ` with holdout AUC ${servingPoint.auc.toFixed(3)}${holdoutNote(
                  versions.find((v) => v.modelVersion === serving)?.metrics?.holdoutScheme,
                )}`
          }.`;
    this.figure.replaceChildren(
      this.svg(layout, summary),
      h(
        "figcaption",
        {},
        h("span", { class: "legend serving" }, "● serving"),
        h("span", { class: "legend retired" }, "● retired"),
        h("span", { class: "legend rejected" }, "○ rejected"),
        h("span", { class: "legend-summary" }, summary),
      ),
      this.table(versions, wasOpen),
    );
    this.container.replaceChildren(this.figure);
  }

  private svg(layout: ChartLayout, summary: string): SVGSVGElement {
    const { plot } = layout;
    const labels = layout.points.length <= 15;
    return s(
      "svg",
      {
        viewBox: `0 0 ${layout.width} ${layout.height}`,
        role: "img",
        "aria-labelledby": "history-title history-desc",
        class: "history-chart",
      },
      s("title", { id: "history-title" }, "Holdout ROC AUC of each model version over time"),
      s("desc", { id: "history-desc" }, summary),
      ...layout.yTicks.flatMap((tick) => [
        s("line", { x1: plot.left, x2: plot.right, y1: tick.position, y2: tick.position, class: "grid" }),
        s(
          "text",
          { x: plot.left - 6, y: tick.position + 4, class: "tick", "text-anchor": "end" },
          tick.label,
        ),
      ]),
      ...layout.xTicks.map((tick) =>
        s(
          "text",
          { x: tick.position, y: plot.bottom + 18, class: "tick", "text-anchor": "middle" },
          tick.label,
        ),
      ),
      s("line", { x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom, class: "axis" }),
      s("line", { x1: plot.left, x2: plot.left, y1: plot.top, y2: plot.bottom, class: "axis" }),
      s("text", { x: 12, y: plot.top - 8, class: "axis-title" }, "AUC"),
      ...(layout.linePath === "" ? [] : [s("path", { d: layout.linePath, class: "served-line" })]),
      ...layout.points.flatMap((p) => {
        const status = statusText(p.status);
        const title = s(
          "title",
          {},
          `${p.version}: ${status}, AUC ${p.auc.toFixed(3)}, ${formatClock(p.createdAt)}`,
        );
        const mark = s(
          "circle",
          {
            cx: p.x,
            cy: p.y,
            r: status === "serving" ? 6 : 4.5,
            class: `point ${status}`,
            "data-version": p.version,
          },
          title,
        );
        return labels
          ? [
              mark,
              s("text", { x: p.x, y: p.y - 10, class: "point-label", "text-anchor": "middle" }, p.version),
            ]
          : [mark];
      }),
    );
  }

  private table(versions: readonly ModelVersion[], open: boolean): HTMLDetailsElement {
    const rows = versions.map((v) =>
      h(
        "tr",
        {},
        h("th", { scope: "row" }, v.modelVersion),
        h("td", {}, statusText(v.status)),
        h("td", {}, v.metrics === undefined ? "–" : v.metrics.rocAuc.toFixed(3)),
        h("td", {}, holdoutText(v.metrics?.holdoutScheme)),
        h("td", {}, v.metrics === undefined ? "–" : v.metrics.accuracy.toFixed(3)),
        h("td", {}, String(v.rowCounts?.feedbackRows ?? 0)),
        h("td", {}, v.createdAt === undefined ? "–" : formatClock(v.createdAt)),
        h("td", {}, v.reason),
      ),
    );
    return h(
      "details",
      { open },
      h("summary", {}, "Model versions as a table"),
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...[
              "Version",
              "Status",
              "Holdout AUC",
              "Holdout",
              "Accuracy",
              "Feedback rows",
              "Trained",
              "Reason",
            ].map((c) => h("th", { scope: "col" }, c)),
          ),
        ),
        h("tbody", {}, ...rows),
      ),
    );
  }
}

/** How a figure's holdout was cut, in words for the table. */
export function holdoutText(scheme: string | undefined): string {
  if (scheme === "lab-profile-v1") return "patients held out by lab profile";
  if (scheme === "row-v1") return "row-level (older; overstates)";
  return scheme === undefined || scheme === "" ? "–" : scheme;
}

/** The summary's note on the serving version's holdout. */
function holdoutNote(scheme: string | undefined): string {
  if (scheme === "lab-profile-v1") return " (patients held out by lab profile)";
  if (scheme === "row-v1") return " (measured on the older row-level holdout, which overstates it)";
  return "";
}
