/**
 * An Open Inference Protocol client for tests and benches: the grpc-js client ts-proto
 * generates from the canonical open_inference_grpc.proto, with promises and deadlines, and
 * ModelInfer requests built from PatientFeatures in the tabular convention (typed contents
 * or raw_input_contents).
 */
import { type ChannelCredentials, Metadata, type ServiceError } from "@grpc/grpc-js";
import { Gender, type PatientFeatures } from "../../gen/liver/v1/patient.js";
import {
  GRPCInferenceServiceClient,
  type InferParameter,
  ModelInferRequest,
  type ModelInferRequest_InferInputTensor,
  type ModelInferResponse,
  type ModelInferResponse_InferOutputTensor,
  type ModelMetadataResponse,
} from "../../gen/open_inference_grpc.js";
import { FEATURES } from "../../shared/features/feature-schema.js";
import { testChannelCredentials } from "../../shared/testing/test-tls.js";

const MALE: number = Gender.GENDER_MALE;
const FEMALE: number = Gender.GENDER_FEMALE;

/** How a request carries its tensors. */
export interface InferRequestShape {
  /** raw_input_contents instead of typed contents. */
  readonly raw?: boolean;
  /** Numbers as FP32 instead of FP64. */
  readonly fp32?: boolean;
  /** Gender as INT32 (the Gender enum) instead of BYTES ("male"/"female"). */
  readonly genderInt32?: boolean;
  readonly version?: string;
  readonly parameters?: Readonly<Record<string, InferParameter>>;
  readonly outputs?: readonly string[];
}

/** The tabular ModelInferRequest for `patients`. */
export function inferRequest(
  patients: readonly PatientFeatures[],
  shape: InferRequestShape = {},
): ModelInferRequest {
  const n = patients.length;
  const inputs: ModelInferRequest_InferInputTensor[] = [];
  const raws: Buffer[] = [];
  for (const spec of FEATURES) {
    if (spec.kind === "gender") {
      const genders: number[] = patients.map((p) => p.gender);
      if (shape.genderInt32 === true) {
        inputs.push(tensor("gender", "INT32", n, shape.raw === true ? undefined : { intContents: genders }));
        const raw = Buffer.alloc(4 * n);
        genders.forEach((g, i) => raw.writeInt32LE(g, i * 4));
        raws.push(raw);
      } else {
        const labels = genders.map((g) =>
          Buffer.from(g === MALE ? "male" : g === FEMALE ? "female" : String(g)),
        );
        inputs.push(tensor("gender", "BYTES", n, shape.raw === true ? undefined : { bytesContents: labels }));
        raws.push(rawBytes(labels));
      }
      continue;
    }
    const values = patients.map((p) => p[spec.key] ?? Number.NaN);
    const fp32 = shape.fp32 === true;
    inputs.push(
      tensor(
        spec.name,
        fp32 ? "FP32" : "FP64",
        n,
        shape.raw === true ? undefined : fp32 ? { fp32Contents: values } : { fp64Contents: values },
      ),
    );
    const raw = Buffer.alloc((fp32 ? 4 : 8) * n);
    values.forEach((v, i) => (fp32 ? raw.writeFloatLE(v, i * 4) : raw.writeDoubleLE(v, i * 8)));
    raws.push(raw);
  }
  return ModelInferRequest.fromPartial({
    modelName: "liver-disease",
    modelVersion: shape.version ?? "",
    id: "request-1",
    parameters: shape.parameters ?? {},
    inputs,
    outputs: (shape.outputs ?? []).map((name) => ({ name, parameters: {} })),
    rawInputContents: shape.raw === true ? raws : [],
  });
}

/** The typed contents a test request fills. */
interface TypedValues {
  readonly intContents?: number[];
  readonly fp32Contents?: number[];
  readonly fp64Contents?: number[];
  readonly bytesContents?: Buffer[];
}

function tensor(
  name: string,
  datatype: string,
  n: number,
  contents: TypedValues | undefined,
): ModelInferRequest_InferInputTensor {
  return {
    name,
    datatype,
    shape: [n],
    parameters: {},
    contents:
      contents === undefined
        ? undefined
        : {
            boolContents: [],
            intContents: contents.intContents ?? [],
            int64Contents: [],
            uintContents: [],
            uint64Contents: [],
            fp32Contents: contents.fp32Contents ?? [],
            fp64Contents: contents.fp64Contents ?? [],
            bytesContents: contents.bytesContents ?? [],
          },
  };
}

/** BYTES raw contents: each element a 4-byte little-endian length and its bytes. */
export function rawBytes(values: readonly Uint8Array[]): Buffer {
  return Buffer.concat(
    values.flatMap((value) => {
      const length = Buffer.alloc(4);
      length.writeUInt32LE(value.length);
      return [length, value];
    }),
  );
}

/** An output of a response as numbers or strings, whichever way the server sent it. */
export function outputValues(response: ModelInferResponse, name: string): number[] | string[] {
  const index = response.outputs.findIndex((o) => o.name === name);
  const output: ModelInferResponse_InferOutputTensor | undefined = response.outputs[index];
  if (output === undefined) throw new Error(`no output ${name}`);
  const raw = response.rawOutputContents[index];
  if (output.datatype === "FP64") {
    if (raw === undefined) return output.contents?.fp64Contents ?? [];
    const view = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    return Array.from({ length: raw.byteLength / 8 }, (_, i) => view.readDoubleLE(i * 8));
  }
  if (raw === undefined)
    return (output.contents?.bytesContents ?? []).map((b) => Buffer.from(b).toString("utf8"));
  const view = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: string[] = [];
  for (let at = 0; at < view.length;) {
    const length = view.readUInt32LE(at);
    out.push(view.subarray(at + 4, at + 4 + length).toString("utf8"));
    at += 4 + length;
  }
  return out;
}

type Unary<Req, Res> = (
  request: Req,
  metadata: Metadata,
  options: { deadline: Date },
  callback: (error: ServiceError | null, response: Res) => void,
) => unknown;

/** GRPCInferenceService with promises. */
export class OpenInferenceTestClient {
  readonly raw: GRPCInferenceServiceClient;
  /** Sent as `authorization: Bearer <token>` when set. */
  bearerToken: string | undefined;
  /** Sent as the W3C `traceparent` header when set. */
  traceparent: string | undefined;

  constructor(
    address: string,
    private readonly timeoutMs = 20_000,
    channelCredentials: ChannelCredentials = testChannelCredentials(),
  ) {
    this.raw = new GRPCInferenceServiceClient(address, channelCredentials, {
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
  }

  private call<Req, Res>(method: Unary<Req, Res>, request: Req): Promise<Res> {
    const metadata = new Metadata();
    if (this.bearerToken !== undefined) metadata.set("authorization", `Bearer ${this.bearerToken}`);
    if (this.traceparent !== undefined) metadata.set("traceparent", this.traceparent);
    return new Promise((resolve, reject) => {
      method.call(
        this.raw,
        request,
        metadata,
        { deadline: new Date(Date.now() + this.timeoutMs) },
        (error, response) => {
          if (error === null) resolve(response);
          else reject(error);
        },
      );
    });
  }

  serverLive(): Promise<boolean> {
    return this.call(this.raw.serverLive.bind(this.raw), {}).then((r) => r.live);
  }
  serverReady(): Promise<boolean> {
    return this.call(this.raw.serverReady.bind(this.raw), {}).then((r) => r.ready);
  }
  modelReady(name = "liver-disease", version = ""): Promise<boolean> {
    return this.call(this.raw.modelReady.bind(this.raw), { name, version }).then((r) => r.ready);
  }
  serverMetadata(): Promise<{ name: string; version: string; extensions: string[] }> {
    return this.call(this.raw.serverMetadata.bind(this.raw), {});
  }
  modelMetadata(name = "liver-disease", version = ""): Promise<ModelMetadataResponse> {
    return this.call(this.raw.modelMetadata.bind(this.raw), { name, version });
  }
  modelInfer(request: ModelInferRequest): Promise<ModelInferResponse> {
    return this.call(this.raw.modelInfer.bind(this.raw), request);
  }

  close(): void {
    this.raw.close();
  }
}
