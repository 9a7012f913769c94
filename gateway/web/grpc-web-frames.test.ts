import { describe, expect, it } from "vitest";
import {
  decodeGrpcMessage,
  encodeDataFrame,
  formatGrpcTimeout,
  FrameReader,
  MAX_FRAME_LENGTH,
  parseTrailers,
} from "./src/grpc-web-frames.js";

function frame(flag: number, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(5 + payload.length);
  out[0] = flag;
  new DataView(out.buffer).setUint32(1, payload.length);
  out.set(payload, 5);
  return out;
}

const text = (s: string): Uint8Array => new TextEncoder().encode(s);

describe("encodeDataFrame", () => {
  it("prefixes flag 0 and a big-endian length", () => {
    const out = encodeDataFrame(new Uint8Array([7, 8, 9]));
    expect([...out]).toEqual([0, 0, 0, 0, 3, 7, 8, 9]);
  });

  it("encodes an empty message as a bare header", () => {
    expect([...encodeDataFrame(new Uint8Array(0))]).toEqual([0, 0, 0, 0, 0]);
  });
});

describe("FrameReader", () => {
  const body = new Uint8Array([
    ...frame(0x00, new Uint8Array([1, 2, 3])),
    ...frame(0x00, new Uint8Array(0)),
    ...frame(0x80, text("grpc-status:0\r\n")),
  ]);

  it("decodes several frames from one chunk", () => {
    const frames = new FrameReader().push(body);
    expect(frames.map((f) => [f.flag, [...f.payload]])).toEqual([
      [0, [1, 2, 3]],
      [0, []],
      [0x80, [...text("grpc-status:0\r\n")]],
    ]);
  });

  it("decodes the same frames when the body arrives one byte at a time", () => {
    const reader = new FrameReader();
    const frames = [...body].flatMap((byte) => reader.push(new Uint8Array([byte])));
    expect(frames.map((f) => f.flag)).toEqual([0, 0, 0x80]);
    expect([...(frames[0]?.payload ?? [])]).toEqual([1, 2, 3]);
    expect(reader.pendingBytes).toBe(0);
  });

  it("keeps a partial frame pending", () => {
    const reader = new FrameReader();
    expect(reader.push(body.slice(0, 6))).toEqual([]);
    expect(reader.pendingBytes).toBe(6);
  });

  it("refuses a frame longer than the limit instead of buffering it", () => {
    const header = new Uint8Array(5);
    new DataView(header.buffer).setUint32(1, MAX_FRAME_LENGTH + 1);
    expect(() => new FrameReader().push(header)).toThrow(/exceeds the 4194304-byte limit/);
  });
});

describe("parseTrailers", () => {
  it("lower-cases names and trims values", () => {
    const trailers = parseTrailers(text("Grpc-Status: 3\r\ngrpc-message:bad%20age\r\n"));
    expect(trailers.get("grpc-status")).toBe("3");
    expect(trailers.get("grpc-message")).toBe("bad%20age");
  });

  it("tolerates bare LF and joins repeated names", () => {
    const trailers = parseTrailers(text("x-a:1\nx-a:2\n"));
    expect(trailers.get("x-a")).toBe("1, 2");
  });

  it("refuses a line without a name", () => {
    expect(() => parseTrailers(text("no-colon-here\r\n"))).toThrow(/not "name:value"/);
  });
});

describe("decodeGrpcMessage", () => {
  it("decodes UTF-8 percent escapes and leaves malformed ones", () => {
    expect(decodeGrpcMessage("age is 130; valid range is 0 to 120 years")).toBe(
      "age is 130; valid range is 0 to 120 years",
    );
    expect(decodeGrpcMessage("caf%C3%A9 %25 done")).toBe("café % done");
    expect(decodeGrpcMessage("100%zz")).toBe("100%zz");
  });
});

describe("formatGrpcTimeout", () => {
  it("uses milliseconds up to 8 digits, then coarser units, rounding up", () => {
    expect(formatGrpcTimeout(1500)).toBe("1500m");
    expect(formatGrpcTimeout(0.2)).toBe("1m");
    expect(formatGrpcTimeout(99_999_999)).toBe("99999999m");
    expect(formatGrpcTimeout(100_000_000)).toBe("100000S");
  });

  it("refuses negative and non-finite deadlines", () => {
    expect(() => formatGrpcTimeout(-1)).toThrow(RangeError);
    expect(() => formatGrpcTimeout(Number.POSITIVE_INFINITY)).toThrow(/finite/);
  });
});
