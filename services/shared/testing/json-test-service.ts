/**
 * A JSON codec for hand-written test services, so middleware and tracing are tested apart
 * from any real service's protobuf messages.
 */

/** A message of the test services: one text field. */
export interface Note {
  readonly text: string;
}

/** The unary method fields of a grpc-js ServiceDefinition entry, with JSON on the wire. */
export const JSON_UNARY_METHOD = {
  requestStream: false,
  responseStream: false,
  requestSerialize: (value: Note): Buffer => Buffer.from(JSON.stringify(value)),
  requestDeserialize: (bytes: Buffer): Note => JSON.parse(bytes.toString("utf8")) as Note,
  responseSerialize: (value: Note): Buffer => Buffer.from(JSON.stringify(value)),
  responseDeserialize: (bytes: Buffer): Note => JSON.parse(bytes.toString("utf8")) as Note,
} as const;
