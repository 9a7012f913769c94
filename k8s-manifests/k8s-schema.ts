import * as certManager from "@kubernetes-models/cert-manager";
import * as k8s from "kubernetes-models";

/**
 * Kubernetes' own API schema for the objects `kubectl apply -k k8s-manifests` sends, through
 * kubernetes-models, whose validators are generated from the Kubernetes OpenAPI spec. The
 * package is pinned to ~4.4 because that line carries the Kubernetes 1.27 spec (1.27 is the
 * oldest version the manifests' README supports; 4.5 moves to newer APIs such as 1.28's
 * sidecar `restartPolicy`, which 1.27 would reject). cert-manager's resources (certificates.yaml)
 * are checked the same way with @kubernetes-models/cert-manager, generated from its CRDs.
 *
 * The OpenAPI spec has no `additionalProperties: false`, so the generated validators accept a
 * misspelt field that `kubectl apply` (strict field validation since 1.27) rejects. Unknown
 * fields are found with the same validators: a key is known when putting a value of the wrong
 * type under it makes the validator complain at that path; for a key the schema does not know,
 * nothing complains. No field list is written here.
 */
export const KUBERNETES_SCHEMA_VERSION = "1.27";

/** One violation: the object (kind/name), the JSON path inside it, and what is wrong. */
export interface K8sSchemaIssue {
  readonly object: string;
  readonly path: string;
  readonly message: string;
}

interface ValidationErrorLike {
  readonly errors?: readonly {
    readonly instancePath: string;
    readonly message?: string;
    readonly params?: unknown;
  }[];
}

type ModelClass = (new (data: unknown) => { validate(): void }) & { apiVersion: string; kind: string };

function isModelClass(value: unknown): value is ModelClass {
  return typeof value === "function" && "apiVersion" in value && "kind" in value;
}

/** Every model class of kubernetes-models by "apiVersion/kind" (e.g. "apps/v1/Deployment"). */
function modelIndex(): Map<string, ModelClass> {
  const index = new Map<string, ModelClass>();
  const add = (candidate: unknown): void => {
    if (isModelClass(candidate)) index.set(`${candidate.apiVersion}/${candidate.kind}`, candidate);
  };
  const members = (value: unknown): unknown[] =>
    typeof value === "object" && value !== null ? Object.values(value as Record<string, unknown>) : [];
  // Core models sit at kubernetes-models.v1.X, the others at kubernetes-models.<group>.<version>.X.
  for (const group of [...members(k8s), ...members(certManager)]) {
    for (const member of members(group)) {
      add(member);
      for (const model of members(member)) add(model);
    }
  }
  return index;
}

let models: Map<string, ModelClass> | undefined;

/** The generated validator's complaints about `data` as `model`: JSON pointer to message. */
function complaints(model: ModelClass, data: unknown): { path: string; message: string }[] {
  try {
    new model(data).validate();
    return [];
  } catch (error) {
    const errors = (error as ValidationErrorLike).errors;
    if (errors === undefined) throw error;
    return errors.map((e) => ({
      path: e.instancePath,
      message: `${e.message ?? "is invalid"}${e.params === undefined ? "" : ` ${JSON.stringify(e.params)}`}`,
    }));
  }
}

/** Probe values no schema type accepts both of: a boolean and a string. */
const PROBES: readonly unknown[] = [true, "\u0000probe"];

function escapePointer(key: string): string {
  return key.replace(/~/g, "~0").replace(/\//g, "~1");
}

/** JSON pointers of every key in `data` that the model's schema does not know. */
function unknownFields(model: ModelClass, data: Record<string, unknown>): string[] {
  const unknown: string[] = [];
  const visit = (node: unknown, pointer: string, parentKnown: boolean): void => {
    if (Array.isArray(node)) {
      node.forEach((item: unknown, i) => {
        visit(item, `${pointer}/${i}`, parentKnown);
      });
      return;
    }
    if (typeof node !== "object" || node === null) return;
    const object = node as Record<string, unknown>;
    for (const key of Object.keys(object)) {
      const original = object[key];
      const path = `${pointer}/${escapePointer(key)}`;
      let known = false;
      for (const probe of PROBES) {
        object[key] = probe;
        known = complaints(model, data).some((c) => c.path === path);
        if (known) break;
      }
      object[key] = original;
      // A free-form map (labels, annotations, ConfigMap data) takes any key: a probe under it
      // complains only because of the value type, which is what marks a known field, so map
      // keys pass as known. Keys below an unknown field are not reported again.
      if (!known && parentKnown) unknown.push(path);
      visit(original, path, known);
    }
  };
  visit(data, "", true);
  return unknown;
}

/**
 * Validates one object as the Kubernetes API server of KUBERNETES_SCHEMA_VERSION would: its
 * apiVersion/kind must exist, every field must be known, types, required fields and enums
 * must match the generated schema. Returns every issue (empty when valid).
 */
export function validateK8sObject(object: unknown): K8sSchemaIssue[] {
  models ??= modelIndex();
  if (typeof object !== "object" || object === null || Array.isArray(object)) {
    return [{ object: "?", path: "", message: "a Kubernetes object must be a mapping" }];
  }
  const data = structuredClone(object) as Record<string, unknown>;
  const metadata = data.metadata as Record<string, unknown> | undefined;
  const name = `${String(data.kind)}/${String(metadata?.name)}`;
  const model = models.get(`${String(data.apiVersion)}/${String(data.kind)}`);
  if (model === undefined) {
    return [
      { object: name, path: "", message: `no kind ${String(data.kind)} in API ${String(data.apiVersion)}` },
    ];
  }
  const issues = complaints(model, data).map((c) => ({ object: name, ...c }));
  for (const path of unknownFields(model, data)) {
    issues.push({ object: name, path, message: `unknown field "${path.slice(path.lastIndexOf("/") + 1)}"` });
  }
  return issues;
}
