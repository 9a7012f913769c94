/**
 * A WatchModelVersions subscriber that stops reading: a raw HTTP/2 stream with a small
 * flow-control window that the test pauses, so the server's writes back up exactly as
 * they would for a stuck or dead peer. Resuming reads and decodes what was held back. Over
 * mTLS with the test client certificate in the "tls" vitest project.
 */
import http2 from "node:http2";
import { WatchModelVersionsRequest, WatchModelVersionsResponse } from "../../gen/liver/v1/retrain_service.js";
import { testScheme, testTlsMaterial } from "../../shared/testing/test-tls.js";

/** The stalled stream. */
export interface StalledWatch {
  /** Starts reading; resolves with every event once `until` matches one. */
  readAll(until: (event: WatchModelVersionsResponse) => boolean): Promise<WatchModelVersionsResponse[]>;
  close(): void;
}

function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.byteLength);
  out.writeUInt32BE(message.byteLength, 1);
  out.set(message, 5);
  return out;
}

/** Opens the stream and never reads until readAll is called. */
export function openStalledWatch(port: number, afterVersion = ""): StalledWatch {
  const session = http2.connect(`${testScheme()}://127.0.0.1:${port}`, {
    ...testTlsMaterial("client"),
    settings: { initialWindowSize: 256 },
  });
  session.on("error", () => undefined);
  const stream = session.request({
    ":method": "POST",
    ":path": "/liver.v1.RetrainService/WatchModelVersions",
    "content-type": "application/grpc",
    te: "trailers",
  });
  stream.on("error", () => undefined);
  stream.pause();
  stream.end(frame(WatchModelVersionsRequest.encode({ afterVersion }).finish()));
  return {
    readAll: (until) =>
      new Promise((resolve, reject) => {
        let pending = Buffer.alloc(0);
        const events: WatchModelVersionsResponse[] = [];
        stream.on("data", (chunk: Buffer) => {
          pending = Buffer.concat([pending, chunk]);
          while (pending.length >= 5) {
            const length = pending.readUInt32BE(1);
            if (pending.length < 5 + length) break;
            const event = WatchModelVersionsResponse.decode(pending.subarray(5, 5 + length));
            pending = pending.subarray(5 + length);
            events.push(event);
            if (until(event)) resolve(events);
          }
        });
        stream.on("end", () => reject(new Error(`the stream ended after ${events.length} events`)));
        stream.resume();
      }),
    close: () => {
      stream.close();
      session.close();
    },
  };
}
