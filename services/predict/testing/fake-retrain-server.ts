/**
 * A scriptable RetrainService for PredictService tests: it streams the version events the
 * test tells it to, records every WatchModelVersions request (after_version included), can
 * go silent like a frozen peer, and serves artifact files from memory. Restartable on the
 * same port, so reconnect tests see a real server go away and come back. It speaks mTLS in
 * the "tls" vitest project (services/shared/testing/test-tls.ts), plaintext elsewhere.
 */
import {
  Server,
  type ServerCredentials,
  type ServerUnaryCall,
  type ServerWritableStream,
  type sendUnaryData,
  status,
} from "@grpc/grpc-js";
import {
  type ArtifactFile,
  type GetModelArtifactRequest,
  type GetModelArtifactResponse,
  ModelVersionEventKind,
  RetrainServiceService,
  type WatchModelVersionsRequest,
  type WatchModelVersionsResponse,
} from "../../gen/liver/v1/retrain_service.js";
import { testServerCredentials } from "../../shared/testing/test-tls.js";

/** A version the fake serves. */
export interface FakeVersion {
  readonly version: string;
  readonly sha256: string;
  readonly files: readonly ArtifactFile[];
  readonly trainedOnSyntheticData?: boolean;
}

type Stream = ServerWritableStream<WatchModelVersionsRequest, WatchModelVersionsResponse>;

function unimplemented(_call: unknown, callback: sendUnaryData<never>): void {
  callback({ code: status.UNIMPLEMENTED, details: "not part of the fake" });
}

export class FakeRetrainServer {
  private server: Server | undefined;
  private readonly streams = new Set<Stream>();
  private readonly versions = new Map<string, FakeVersion>();
  private serving: FakeVersion | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  /** after_version of every WatchModelVersions call, in arrival order. */
  readonly watchRequests: string[] = [];
  /** Versions requested with GetModelArtifact, in arrival order. */
  readonly artifactRequests: string[] = [];
  /** When true, streams are accepted but nothing is ever sent (a frozen peer). */
  silent = false;
  /** Resolvers waiting for the next watch request. */
  private readonly watchWaiters: (() => void)[] = [];
  port = 0;

  constructor(
    private readonly heartbeatIntervalMs = 60_000,
    private readonly credentials: ServerCredentials = testServerCredentials(),
  ) {}

  /** Adds a version that GetModelArtifact can return (it does not serve it). */
  addVersion(version: FakeVersion): void {
    this.versions.set(version.version, version);
  }

  /** Makes `version` serving and tells every open stream (PROMOTED, or ROLLED_BACK). */
  promote(version: FakeVersion, kind = ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_PROMOTED): void {
    this.addVersion(version);
    this.serving = version;
    for (const stream of this.streams) this.send(stream, kind);
  }

  /** Sends a heartbeat on every open stream now. */
  heartbeat(): void {
    for (const stream of this.streams)
      this.send(stream, ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_HEARTBEAT);
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Resolves when the number of watch requests reaches `count`. */
  async waitForWatchRequests(count: number): Promise<void> {
    while (this.watchRequests.length < count) {
      await new Promise<void>((resolve) => this.watchWaiters.push(resolve));
    }
  }

  async start(port = this.port): Promise<number> {
    const server = new Server();
    server.addService(RetrainServiceService, {
      submitFeedback: unimplemented,
      getRetrainStatus: unimplemented,
      listModelVersions: unimplemented,
      triggerRetrain: unimplemented,
      rollbackModel: unimplemented,
      watchModelVersions: (stream: Stream) => this.watch(stream),
      getModelArtifact: (
        call: ServerUnaryCall<GetModelArtifactRequest, GetModelArtifactResponse>,
        callback: sendUnaryData<GetModelArtifactResponse>,
      ) => {
        this.artifactRequests.push(call.request.modelVersion);
        const found = this.versions.get(call.request.modelVersion);
        if (found === undefined) {
          callback({
            code: status.NOT_FOUND,
            details: `model version ${call.request.modelVersion} not found`,
          });
          return;
        }
        callback(null, { modelVersion: found.version, sha256: found.sha256, files: [...found.files] });
      },
    });
    this.port = await new Promise<number>((resolve, reject) => {
      server.bindAsync(`127.0.0.1:${port}`, this.credentials, (error, bound) => {
        if (error) reject(error);
        else resolve(bound);
      });
    });
    this.server = server;
    this.heartbeatTimer = setInterval(() => this.heartbeat(), this.heartbeatIntervalMs);
    return this.port;
  }

  /** Ends every stream with UNAVAILABLE (as the real service does on SIGTERM) and stops. */
  async stop(): Promise<void> {
    clearInterval(this.heartbeatTimer);
    for (const stream of this.streams) {
      stream.emit("error", { code: status.UNAVAILABLE, details: "server shutting down" });
    }
    this.streams.clear();
    const server = this.server;
    this.server = undefined;
    if (server !== undefined) {
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    }
  }

  /** Drops everything at once, as a killed process would. */
  kill(): void {
    clearInterval(this.heartbeatTimer);
    this.streams.clear();
    this.server?.forceShutdown();
    this.server = undefined;
  }

  private watch(stream: Stream): void {
    const after = stream.request.afterVersion;
    this.watchRequests.push(after);
    for (const resolve of this.watchWaiters.splice(0)) resolve();
    if (after !== "" && !this.versions.has(after)) {
      stream.emit("error", { code: status.NOT_FOUND, details: `model version ${after} not found` });
      return;
    }
    this.streams.add(stream);
    stream.on("cancelled", () => this.streams.delete(stream));
    stream.on("error", () => this.streams.delete(stream));
    this.send(stream, ModelVersionEventKind.MODEL_VERSION_EVENT_KIND_CURRENT);
  }

  private send(stream: Stream, kind: ModelVersionEventKind): void {
    if (this.silent) return;
    const serving = this.serving;
    stream.write({
      kind,
      modelVersion: serving?.version ?? "",
      sha256: serving?.sha256 ?? "",
      metrics: undefined,
      sentAt: new Date(),
      heartbeatIntervalMs: this.heartbeatIntervalMs,
      trainedOnSyntheticData: serving?.trainedOnSyntheticData ?? false,
      pendingVersion: "",
    });
  }
}
