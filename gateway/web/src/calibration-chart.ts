/**
 * The serving version's reliability diagram: for each bin of predicted probability, the
 * share of holdout patients who had liver disease, against the diagonal of perfect
 * calibration, with the expected calibration error in words. Inline SVG like the history
 * chart beside it, and the same numbers as a table for screen readers and keyboard users.
 */
import { h, s } from "./dom.js";
import type { Calibration, ModelVersion } from "./gen/liver/v1/model.js";

/** One plotted (non-empty) bin, in SVG user units. */
export interface ReliabilityPoint {
  readonly x: number;
  readonly y: number;
  readonly r: number;
  readonly rows: number;
  readonly meanPredicted: number;
  readonly observedRate: number;
}

/** Everything needed to draw the diagram. */
export interface ReliabilityLayout {
  readonly size: number;
  readonly plot: {
    readonly left: number;
    readonly right: number;
    readonly top: number;
    readonly bottom: number;
  };
  readonly points: readonly ReliabilityPoint[];
  /** Line through the points, lowest predicted first; "" with fewer than two. */
  readonly linePath: string;
}

const MARGIN = { left: 40, right: 22, top: 22, bottom: 34 };

/**
 * Places each non-empty bin at (mean predicted, observed rate) on a square 0-to-1 plot; a
 * point's area grows with its rows, so a bin of 3 patients does not look like one of 300.
 */
export function layoutReliability(calibration: Calibration, size = 260): ReliabilityLayout {
  const plot = {
    left: MARGIN.left,
    right: size - MARGIN.right,
    top: MARGIN.top,
    bottom: size - MARGIN.bottom,
  };
  const bins = calibration.bins.filter((bin) => bin.rows > 0);
  const most = Math.max(1, ...bins.map((bin) => bin.rows));
  const round = (n: number): number => Math.round(n * 10) / 10;
  const points = bins.map((bin) => ({
    x: round(plot.left + bin.meanPredicted * (plot.right - plot.left)),
    y: round(plot.bottom - bin.observedRate * (plot.bottom - plot.top)),
    r: round(2.5 + 5.5 * Math.sqrt(bin.rows / most)),
    rows: bin.rows,
    meanPredicted: bin.meanPredicted,
    observedRate: bin.observedRate,
  }));
  const linePath =
    points.length < 2 ? "" : points.map((p, i) => `${i === 0 ? "M" : "L"}${p.x},${p.y}`).join(" ");
  return { size, plot, points, linePath };
}

/** "Expected calibration error 0.034: predicted and observed rates differ by 3.4 points on average." */
export function describeCalibration(version: string, calibration: Calibration): string {
  const ece = calibration.expectedCalibrationError;
  const rows = calibration.bins.reduce((sum, bin) => sum + bin.rows, 0);
  return (
    `${version}: expected calibration error ${ece.toFixed(3)}; over ${rows} holdout patients, ` +
    `predicted and observed rates differ by ${(ece * 100).toFixed(1)} percentage points on average.`
  );
}

const percent = (value: number): string => `${(value * 100).toFixed(0)} %`;

/** The calibration panel next to the history chart. */
export class CalibrationChart {
  constructor(private readonly container: HTMLElement) {
    container.replaceChildren(h("p", { class: "muted" }, "Loading the serving version's calibration…"));
  }

  /** Draws the serving version's calibration, or says why there is none. */
  render(serving: ModelVersion | undefined): void {
    const heading = h("h3", { class: "calibration-heading" }, "Calibration of the serving version");
    const calibration = serving?.metrics?.calibration;
    if (serving === undefined || calibration === undefined || calibration.bins.length === 0) {
      const text =
        serving === undefined
          ? "No version is serving yet."
          : `${serving.modelVersion} was trained before calibration was measured.`;
      this.container.replaceChildren(heading, h("p", { class: "muted" }, text));
      return;
    }
    const layout = layoutReliability(calibration);
    const summary = describeCalibration(serving.modelVersion, calibration);
    this.container.replaceChildren(
      heading,
      h(
        "figure",
        { class: "calibration" },
        this.svg(layout, summary),
        h("figcaption", {}, summary),
        this.table(calibration),
      ),
    );
  }

  private svg(layout: ReliabilityLayout, summary: string): SVGSVGElement {
    const { plot, size } = layout;
    const ticks = [0, 0.5, 1];
    return s(
      "svg",
      {
        viewBox: `0 0 ${size} ${size}`,
        role: "img",
        "aria-labelledby": "calibration-title calibration-desc",
        class: "calibration-chart",
      },
      s(
        "title",
        { id: "calibration-title" },
        "Reliability diagram: observed rate against predicted probability",
      ),
      s("desc", { id: "calibration-desc" }, summary),
      ...ticks.flatMap((t) => {
        const x = plot.left + t * (plot.right - plot.left);
        const y = plot.bottom - t * (plot.bottom - plot.top);
        return [
          s("text", { x, y: plot.bottom + 14, class: "tick", "text-anchor": "middle" }, percent(t)),
          s("text", { x: plot.left - 5, y: y + 4, class: "tick", "text-anchor": "end" }, percent(t)),
        ];
      }),
      s("line", { x1: plot.left, x2: plot.right, y1: plot.bottom, y2: plot.bottom, class: "axis" }),
      s("line", { x1: plot.left, x2: plot.left, y1: plot.top, y2: plot.bottom, class: "axis" }),
      s("line", { x1: plot.left, y1: plot.bottom, x2: plot.right, y2: plot.top, class: "diagonal" }),
      s(
        "text",
        { x: (plot.left + plot.right) / 2, y: size - 4, class: "axis-title", "text-anchor": "middle" },
        "predicted",
      ),
      s("text", { x: 4, y: 11, class: "axis-title" }, "observed"),
      ...(layout.linePath === "" ? [] : [s("path", { d: layout.linePath, class: "reliability-line" })]),
      ...layout.points.map((p) =>
        s(
          "circle",
          { cx: p.x, cy: p.y, r: p.r, class: "reliability-point" },
          s(
            "title",
            {},
            `${p.rows} patients: predicted ${percent(p.meanPredicted)}, observed ${percent(p.observedRate)}`,
          ),
        ),
      ),
    );
  }

  private table(calibration: Calibration): HTMLDetailsElement {
    return h(
      "details",
      {},
      h("summary", {}, "Calibration as a table"),
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            ...["Predicted", "Patients", "Mean predicted", "Observed"].map((c) =>
              h("th", { scope: "col" }, c),
            ),
          ),
        ),
        h(
          "tbody",
          {},
          ...calibration.bins.map((bin) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, `${percent(bin.lower)} to ${percent(bin.upper)}`),
              h("td", {}, String(bin.rows)),
              h("td", {}, bin.rows === 0 ? "–" : percent(bin.meanPredicted)),
              h("td", {}, bin.rows === 0 ? "–" : percent(bin.observedRate)),
            ),
          ),
        ),
      ),
    );
  }
}
