/**
 * An OTLP/HTTP (JSON) trace receiver for tests: a real HTTP server on 127.0.0.1:0 that keeps
 * every span it is sent, named with the service that sent it, so a test can follow traces and
 * links across processes (child processes, or this process with tracing on).
 */
import { type IncomingMessage, createServer } from "node:http";

/** An attribute as OTLP/JSON encodes it. */
export interface OtlpAttribute {
  key: string;
  value: { stringValue?: string; intValue?: number | string; boolValue?: boolean };
}

/** A span as OTLP/JSON encodes it (ids in hex), with the fields the tests read. */
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  startTimeUnixNano?: string;
  attributes?: OtlpAttribute[];
  links?: { traceId: string; spanId: string; attributes?: OtlpAttribute[] }[];
}

/** A received span and the `service.name` of the process that exported it. */
export interface ReceivedSpan extends OtlpSpan {
  service: string;
}

interface OtlpExport {
  resourceSpans?: {
    resource?: { attributes?: OtlpAttribute[] };
    scopeSpans?: { spans?: OtlpSpan[] }[];
  }[];
}

/** The value of attribute `key` as a string; undefined when the span has none. */
export function attribute(attributes: OtlpAttribute[] | undefined, key: string): string | undefined {
  const found = attributes?.find((a) => a.key === key)?.value;
  if (found === undefined) return undefined;
  return String(found.stringValue ?? found.intValue ?? found.boolValue);
}

/** Keeps the spans exported to it; `spans` is one array, filled as exports arrive. */
export class OtlpReceiver {
  readonly spans: ReceivedSpan[] = [];
  private readonly server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      if (req.url === "/v1/traces") {
        const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as OtlpExport;
        for (const resource of body.resourceSpans ?? []) {
          const service = attribute(resource.resource?.attributes, "service.name") ?? "";
          for (const scope of resource.scopeSpans ?? []) {
            for (const span of scope.spans ?? []) this.spans.push({ ...span, service });
          }
        }
      }
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });

  /** Listens on 127.0.0.1:0; resolves with the OTEL_EXPORTER_OTLP_ENDPOINT to export to. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const address = this.server.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    return `http://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
