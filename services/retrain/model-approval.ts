import { status } from "@grpc/grpc-js";
import {
  ModelVersionEventKind,
  type ApproveModelVersionRequest,
  type ApproveModelVersionResponse,
  type RejectModelVersionRequest,
  type RejectModelVersionResponse,
} from "../gen/liver/v1/retrain_service.js";
import type { Logger } from "pino";
import type { AdminIdentity } from "./admin-auth.js";
import { checkReason, checkVersionName } from "./request-validation.js";
import { invalidRequest, rpcFailure } from "../shared/grpc/rpc-failure.js";
import type { ModelRegistry, ModelVersionRecord } from "./store/model-registry.js";
import { registryDecision } from "./registry-decision.js";
import type { ServingSnapshot, VersionBroadcaster } from "./version-broadcaster.js";
import { servingChangedByAdmin } from "./retrain-tracing.js";
import type { GetModelArtifactResponse } from "../gen/liver/v1/retrain_service.js";
import type { FieldViolation } from "../shared/features/feature-schema.js";

/** What ApproveModelVersion and RejectModelVersion work with. */
export interface ModelApprovalDeps {
  readonly registry: ModelRegistry;
  /** Reads a version's files: an approved version must be servable before it serves. */
  readonly artifacts: { read(modelVersion: string): Promise<GetModelArtifactResponse> };
  readonly broadcaster: VersionBroadcaster;
  readonly snapshot: (record: ModelVersionRecord) => ServingSnapshot;
  /** Called after an approval changed the serving version. */
  readonly onServingChanged: (record: ModelVersionRecord) => void;
  /** Called when the waiting candidate changes (approved or rejected: none waits). */
  readonly onPendingChanged: (pending: ModelVersionRecord | undefined) => void;
  readonly logger: Logger;
}

/**
 * A person's decision on a candidate that waits for approval (PENDING_APPROVAL): approve
 * makes it serve at once (announced PROMOTED on the version stream, like any promotion);
 * reject keeps the serving version. Both are audited with the admin's principal and stored
 * with the version. The caller has already checked that the caller is an admin.
 */
export class ModelApproval {
  constructor(private readonly deps: ModelApprovalDeps) {}

  async approve(
    request: ApproveModelVersionRequest,
    admin: AdminIdentity,
  ): Promise<ApproveModelVersionResponse> {
    checkDecisionRequest(request);
    const target = this.requirePending(request.modelVersion);
    // Never serve a version whose files are gone: check before switching.
    try {
      await this.deps.artifacts.read(target.modelVersion);
    } catch (error) {
      throw rpcFailure(
        status.FAILED_PRECONDITION,
        `model_version ${target.modelVersion} cannot serve: its artifact is unreadable (${error instanceof Error ? error.message : String(error)}); reject it instead`,
      );
    }
    const result = registryDecision(() =>
      this.deps.registry.approve(request.modelVersion, admin.principal, request.reason),
    );
    this.deps.broadcaster.setPending("");
    const previousVersion = result.previous?.modelVersion ?? "";
    this.deps.broadcaster.publish(ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED, {
      ...this.deps.snapshot(result.current),
      traceparent: servingChangedByAdmin("approval", result.current, previousVersion),
    });
    this.deps.onServingChanged(result.current);
    this.deps.onPendingChanged(undefined);
    this.deps.logger.warn(
      {
        audit: "ApproveModelVersion",
        principal: admin.principal,
        modelVersion: result.current.modelVersion,
        previousVersion,
        reason: request.reason,
      },
      `admin ${admin.principal} approved ${result.current.modelVersion}; it serves now`,
    );
    return { modelVersion: result.current.modelVersion, previousVersion };
  }

  reject(request: RejectModelVersionRequest, admin: AdminIdentity): RejectModelVersionResponse {
    checkDecisionRequest(request);
    this.requirePending(request.modelVersion);
    const result = registryDecision(() =>
      this.deps.registry.reject(request.modelVersion, admin.principal, request.reason),
    );
    this.deps.broadcaster.setPending("");
    this.deps.onPendingChanged(undefined);
    const servingVersion = result.previous?.modelVersion ?? "";
    this.deps.logger.warn(
      {
        audit: "RejectModelVersion",
        principal: admin.principal,
        modelVersion: result.current.modelVersion,
        servingVersion,
        reason: request.reason,
      },
      `admin ${admin.principal} rejected ${result.current.modelVersion}; ${servingVersion} keeps serving`,
    );
    return { modelVersion: result.current.modelVersion, servingVersion };
  }

  private requirePending(modelVersion: string): ModelVersionRecord {
    const target = this.deps.registry.get(modelVersion);
    if (target === undefined) {
      throw rpcFailure(
        status.NOT_FOUND,
        `model_version ${modelVersion} is not in the registry; ListModelVersions shows the stored versions`,
      );
    }
    if (target.status !== "pending") {
      const decided =
        target.decision === undefined
          ? ""
          : ` (${target.decision.decision} by ${target.decision.by}: ${target.decision.reason})`;
      const waiting = this.deps.registry.pending()?.modelVersion;
      throw rpcFailure(
        status.FAILED_PRECONDITION,
        `model_version ${modelVersion} does not wait for approval: it is ${target.status}${decided}; ` +
          (waiting === undefined ? "no version waits now" : `${waiting} waits now`),
      );
    }
    return target;
  }
}

/** model_version names a version; reason is required plain text of at most 200 characters. */
function checkDecisionRequest(request: { readonly modelVersion: string; readonly reason: string }): void {
  const violations: FieldViolation[] = [...checkVersionName("model_version", request.modelVersion, true)];
  if (request.reason.trim() === "") {
    violations.push({
      field: "reason",
      description: "reason is required: say why, for the registry and the audit log",
    });
  } else {
    violations.push(...checkReason(request.reason));
  }
  if (violations.length > 0) throw invalidRequest(violations);
}
