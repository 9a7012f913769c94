/**
 * The optional alerting rules (monitoring/): the PrometheusRule is checked against the
 * Prometheus Operator CRD's schema (monitoring.coreos.com/v1, the fields of
 * openAPIV3Schema this file uses, transcribed from monitoring.coreos.com_prometheusrules.yaml
 * with unknown fields refused instead of pruned, so a typo cannot silently drop a rule),
 * every metric and label the expressions use is one the services really export, and the
 * default kustomization stays free of the CRD.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { Ajv } from "ajv";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { InputDriftMonitor } from "../services/predict/input-drift-monitor.js";
import { PredictMetrics } from "../services/predict/predict-metrics.js";
import { RetrainMetrics } from "../services/retrain/retrain-metrics.js";
import { SiteCalibrationDrift } from "../services/retrain/site-calibration-drift.js";
import { useTempStore } from "../services/retrain/testing/temp-store.js";
import { VersionVerdicts } from "../services/retrain/version-verdicts.js";
import { loadKustomizeBundle } from "./kustomize-bundle.js";

const root = path.dirname(fileURLToPath(import.meta.url));
const RULE_FILE = path.join(root, "monitoring", "prometheus-rule.yaml");

/** Prometheus durations as the CRD's Duration type accepts them. */
const DURATION =
  "^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$";
const STRING_MAP = { type: "object", additionalProperties: { type: "string" } };

const PROMETHEUS_RULE_SCHEMA = {
  type: "object",
  required: ["apiVersion", "kind", "metadata", "spec"],
  additionalProperties: false,
  properties: {
    apiVersion: { const: "monitoring.coreos.com/v1" },
    kind: { const: "PrometheusRule" },
    metadata: {
      type: "object",
      required: ["name"],
      properties: {
        name: { type: "string", pattern: "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$", maxLength: 253 },
        namespace: { type: "string" },
        labels: STRING_MAP,
        annotations: STRING_MAP,
      },
      additionalProperties: false,
    },
    spec: {
      type: "object",
      additionalProperties: false,
      properties: {
        groups: {
          type: "array",
          items: {
            type: "object",
            required: ["name"],
            additionalProperties: false,
            properties: {
              name: { type: "string", minLength: 1 },
              interval: { type: "string", pattern: DURATION },
              query_offset: { type: "string", pattern: DURATION },
              limit: { type: "integer" },
              // The CRD says ^(?i)(abort|warn)?$ (Go syntax); the same without the inline flag.
              partial_response_strategy: {
                type: "string",
                pattern: "^([Aa][Bb][Oo][Rr][Tt]|[Ww][Aa][Rr][Nn])?$",
              },
              labels: STRING_MAP,
              rules: {
                type: "array",
                items: {
                  type: "object",
                  required: ["expr"],
                  additionalProperties: false,
                  properties: {
                    alert: { type: "string" },
                    record: { type: "string" },
                    expr: { anyOf: [{ type: "integer" }, { type: "string" }] },
                    for: { type: "string", pattern: DURATION },
                    keep_firing_for: { type: "string", minLength: 1, pattern: DURATION },
                    labels: STRING_MAP,
                    annotations: STRING_MAP,
                  },
                },
              },
            },
          },
        },
      },
    },
  },
} as const;

interface Rule {
  readonly alert?: string;
  readonly expr: string;
  readonly for?: string;
  readonly labels?: Record<string, string>;
  readonly annotations?: Record<string, string>;
}

interface RuleDocument {
  readonly spec: { readonly groups: readonly { readonly name: string; readonly rules: readonly Rule[] }[] };
}

const document = parse(readFileSync(RULE_FILE, "utf8")) as RuleDocument;
const rules = document.spec.groups.flatMap((group) => group.rules);

/** Every metric the services register, with its label names. */
async function exportedMetrics(drift: SiteCalibrationDrift): Promise<Map<string, Set<string>>> {
  const predict = new PredictMetrics({ defaultMetrics: false });
  predict.watchDrift(() => new InputDriftMonitor().snapshot());
  const retrain = new RetrainMetrics({ defaultMetrics: false });
  retrain.watchVerdicts(new VersionVerdicts());
  retrain.watchCalibrationDrift(drift, () => "");
  const out = new Map<string, Set<string>>();
  for (const registry of [predict.registry, retrain.registry]) {
    for (const metric of registry.getMetricsAsArray()) {
      const config = (metric as unknown as { labelNames?: readonly string[] }).labelNames ?? [];
      out.set(metric.name, new Set(config));
    }
    await registry.metrics();
  }
  return out;
}

describe("monitoring/prometheus-rule.yaml", () => {
  const database = useTempStore();

  it("is a valid PrometheusRule by the operator CRD's schema, and the validator catches mistakes", () => {
    const ajv = new Ajv({ allErrors: true });
    const validate = ajv.compile(PROMETHEUS_RULE_SCHEMA);
    expect(validate(document), JSON.stringify(validate.errors)).toBe(true);
    const typo = structuredClone(document) as unknown as {
      spec: { groups: { rules: Record<string, unknown>[] }[] };
    };
    const first = typo.spec.groups[0]?.rules[0];
    if (first !== undefined) first["fro"] = first["for"];
    expect(validate(typo)).toBe(false);
    const badDuration = structuredClone(document) as unknown as {
      spec: { groups: { rules: { for: string }[] }[] };
    };
    const rule = badDuration.spec.groups[0]?.rules[0];
    if (rule !== undefined) rule.for = "15 minutes";
    expect(validate(badDuration)).toBe(false);
  });

  it("alerts on drift, error rate, a stalled version stream, a replica on another version and a change awaiting approval", () => {
    const names = rules.map((r) => r.alert);
    expect(names).toEqual(
      expect.arrayContaining([
        "LiverInputDrift",
        "LiverPredictErrorRate",
        "LiverVersionStreamStalled",
        "LiverReplicaVersionMismatch",
        "LiverModelChangeAwaitingApproval",
      ]),
    );
    const waiting = rules.find((r) => r.alert === "LiverModelChangeAwaitingApproval");
    expect(waiting?.expr).toBe("liver_retrain_pending_approval == 1");
    for (const rule of rules) {
      expect(rule.for, `${rule.alert ?? "?"} waits before firing`).toBeDefined();
      expect(["warning", "critical"]).toContain(rule.labels?.["severity"]);
      expect(rule.annotations?.["summary"]?.length ?? 0).toBeGreaterThan(0);
      expect(rule.annotations?.["description"]?.length ?? 0).toBeGreaterThan(0);
    }
  });

  it("uses only metrics and labels the services export", async () => {
    const exported = await exportedMetrics(new SiteCalibrationDrift(database()));
    for (const rule of rules) {
      const used = rule.expr.match(/liver_[a-z_]+/g) ?? [];
      expect(used.length, `${rule.alert ?? "?"} uses a liver metric`).toBeGreaterThan(0);
      for (const metric of used) {
        expect([...exported.keys()], `${rule.alert ?? "?"}: ${metric}`).toContain(metric);
      }
      // Label matchers right after a metric name: {label=..., label!~...}.
      for (const [, metric, selector] of rule.expr.matchAll(/(liver_[a-z_]+)\{([^}]*)\}/g)) {
        for (const [, label] of (selector ?? "").matchAll(/([a-z_]+)\s*(?:=~|!~|!=|=)/g)) {
          expect(
            [...(exported.get(metric ?? "") ?? [])],
            `${metric ?? "?"} has label ${label ?? "?"}`,
          ).toContain(label);
        }
      }
    }
    // The version-mismatch rule joins on model_version: both sides must carry it.
    expect(exported.get("liver_predict_serving_model_info")?.has("model_version")).toBe(true);
    expect(exported.get("liver_retrain_serving_model_info")?.has("model_version")).toBe(true);
  });

  it("alerts per site when a site's calibration drifts, on the gauge a drifting site really raises", async () => {
    const rule = rules.find((r) => r.alert === "LiverSiteCalibrationDrift");
    expect(rule?.expr).toBe("max by (site) (liver_retrain_site_calibration_drift_alarm) == 1");
    expect(rule?.annotations?.["summary"]).toContain("{{ $labels.site }}");
    // A site whose 100 outcomes were all liver disease where its answers expected 30.
    const drift = new SiteCalibrationDrift(database());
    drift.report("v1");
    for (let i = 0; i < 100; i++) {
      drift.record("v1", "north", 1, 0.3);
      drift.record("v1", "south", i < 30 ? 1 : 0, 0.3);
    }
    const metrics = new RetrainMetrics({ defaultMetrics: false });
    metrics.watchCalibrationDrift(drift, () => "v1");
    const scrape = await metrics.registry.metrics();
    expect(scrape).toContain('liver_retrain_site_calibration_drift_alarm{site="north"} 1');
    expect(scrape).toContain('liver_retrain_site_calibration_drift_alarm{site="south"} 0');
  });

  it("stays out of the default kustomization (no CRD needed) and builds on its own", () => {
    const bundle = loadKustomizeBundle(root);
    expect(bundle.documents.filter((d) => d.object.kind === "PrometheusRule")).toEqual([]);
    const own = parse(readFileSync(path.join(root, "monitoring", "kustomization.yaml"), "utf8")) as {
      resources: string[];
      namespace: string;
    };
    expect(own).toMatchObject({ resources: ["prometheus-rule.yaml"], namespace: "liver" });
    if (existsSync("/usr/bin/kubectl")) {
      const built = execFileSync("/usr/bin/kubectl", ["kustomize", path.join(root, "monitoring")], {
        encoding: "utf8",
      });
      const docs = parseAllDocuments(built).map(
        (d) => d.toJS() as { kind: string; metadata: { namespace: string } },
      );
      expect(docs.map((d) => [d.kind, d.metadata.namespace])).toEqual([["PrometheusRule", "liver"]]);
    }
  });
});
