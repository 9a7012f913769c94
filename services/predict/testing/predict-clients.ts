/**
 * Promise-based clients for PredictService tests and benches: Predict, PredictBatch and
 * GetModelInfo with deadlines, and grpc.health.v1 Check.
 */
import {
  type ChannelCredentials,
  type Client,
  Metadata,
  type ServiceError,
  makeGenericClientConstructor,
} from "@grpc/grpc-js";
import { service as healthService } from "grpc-health-check";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { testChannelCredentials } from "../../shared/testing/test-tls.js";
import { type Gender, PatientFeatures } from "../../gen/liver/v1/patient.js";
import {
  type GetModelInfoResponse,
  PredictBatchRequest,
  type PredictBatchResponse,
  PredictServiceClient,
  type PredictResponse,
} from "../../gen/liver/v1/predict_service.js";

/** A call that failed: code and details, for assertions. */
export interface CallFailure {
  readonly code: number;
  readonly details: string;
}

function unary<T>(
  invoke: (
    metadata: Metadata,
    options: { deadline: Date },
    callback: (e: ServiceError | null, r: T) => void,
  ) => void,
  timeoutMs: number,
  metadata: Metadata = new Metadata(),
): Promise<T> {
  return new Promise((resolve, reject) => {
    invoke(metadata, { deadline: new Date(Date.now() + timeoutMs) }, (error, response) => {
      if (error === null) resolve(response);
      else reject(error);
    });
  });
}

/** PredictService with promises. */
export class PredictTestClient {
  readonly raw: PredictServiceClient;
  private readonly health: Client & {
    check(
      request: { service: string },
      metadata: Metadata,
      options: { deadline: Date },
      callback: (error: ServiceError | null, response: { status: string | number }) => void,
    ): void;
  };

  constructor(
    readonly address: string,
    private readonly timeoutMs = 10_000,
    // The fixtures' transport: mTLS in the "tls" test project, plaintext elsewhere.
    channelCredentials: ChannelCredentials = testChannelCredentials(),
  ) {
    this.raw = new PredictServiceClient(address, channelCredentials);
    const HealthClient = makeGenericClientConstructor(healthService, "grpc.health.v1.Health");
    this.health = new HealthClient(address, channelCredentials) as unknown as typeof this.health;
  }

  /** Sent as `authorization: Bearer <token>` on Predict and PredictBatch when set. */
  bearerToken: string | undefined;
  /** Sent as x-liver-site on Predict and PredictBatch when set (as a site's gateway would). */
  site: string | undefined;

  predict(patient: PatientFeatures | undefined): Promise<PredictResponse> {
    return unary((m, o, cb) => this.raw.predict({ patient }, m, o, cb), this.timeoutMs, this.authMetadata());
  }

  predictBatch(
    patients: PatientFeatures[],
    options: Partial<Omit<PredictBatchRequest, "patients">> = {},
  ): Promise<PredictBatchResponse> {
    const request = PredictBatchRequest.fromPartial({ ...options, patients });
    return unary((m, o, cb) => this.raw.predictBatch(request, m, o, cb), this.timeoutMs, this.authMetadata());
  }

  private authMetadata(): Metadata {
    const metadata = new Metadata();
    if (this.bearerToken !== undefined) metadata.set("authorization", `Bearer ${this.bearerToken}`);
    if (this.site !== undefined) metadata.set("x-liver-site", this.site);
    return metadata;
  }

  modelInfo(): Promise<GetModelInfoResponse> {
    return unary((m, o, cb) => this.raw.getModelInfo({}, m, o, cb), this.timeoutMs);
  }

  /** grpc.health.v1 status name of `service` ("" for the whole server). */
  async healthStatus(service = ""): Promise<string> {
    const response = await unary<{ status: string | number }>(
      (m, o, cb) => this.health.check({ service }, m, o, cb),
      this.timeoutMs,
    );
    return String(response.status);
  }

  close(): void {
    this.raw.close();
    this.health.close();
  }
}

/** The failure of a call that must fail (code and details), or an error if it succeeded. */
export async function callFailure(promise: Promise<unknown>): Promise<CallFailure> {
  try {
    await promise;
  } catch (error) {
    const e = error as ServiceError;
    return { code: e.code, details: e.details };
  }
  throw new Error("the call succeeded; a failure was expected");
}

/** Field number of PatientFeatures.gender in patient.proto. */
const GENDER_FIELD = 2;

/**
 * A Gender number outside the enum, as a client with a newer or broken schema sends it: the
 * wire bytes of a PatientFeatures holding only that number, decoded by the generated codec.
 */
export function unknownGender(value: number): Gender {
  const bytes = new BinaryWriter()
    .uint32((GENDER_FIELD << 3) | 0)
    .int32(value)
    .finish();
  return PatientFeatures.decode(bytes).gender;
}
