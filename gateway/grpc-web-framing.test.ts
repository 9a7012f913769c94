import { describe, expect, it, vi } from "vitest";
import {
  decodeGrpcMessage,
  decodeTrailers,
  encodeFrame,
  encodeGrpcMessage,
  encodeMessageFrame,
  encodeTrailerFrame,
  formatGrpcTimeout,
  FrameDecoder,
  MAX_FRAME_LENGTH,
  MESSAGE_FLAG,
  TRAILER_FLAG,
  trailerMap,
} from "./grpc-web-framing.js";
import { parseGrpcTimeout } from "./bridge/grpc-web-headers.js";

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe("grpc-web frames", () => {
  it("encodes flag, big-endian length and payload", () => {
    expect([...encodeMessageFrame(bytes(1, 2, 3))]).toEqual([0x00, 0, 0, 0, 3, 1, 2, 3]);
    expect([...encodeFrame(TRAILER_FLAG, new Uint8Array(0))]).toEqual([0x80, 0, 0, 0, 0]);
    const big = encodeMessageFrame(new Uint8Array(0x01_02_03));
    expect([...big.slice(0, 5)]).toEqual([0x00, 0x00, 0x01, 0x02, 0x03]);
  });

  it("writes the trailer frame as grpc-status:N\\r\\ngrpc-message:...\\r\\n then metadata", () => {
    const frame = encodeTrailerFrame(3, "age: must be 4-90", [["X-Request-Id", "r1"]]);
    expect(frame[0]).toBe(0x80);
    const payload = frame.slice(5);
    expect(new DataView(frame.buffer).getUint32(1)).toBe(payload.length);
    expect(new TextDecoder().decode(payload)).toBe(
      "grpc-status:3\r\ngrpc-message:age: must be 4-90\r\nx-request-id:r1\r\n",
    );
    expect(new TextDecoder().decode(encodeTrailerFrame(0, "").slice(5))).toBe("grpc-status:0\r\n");
  });

  it("decodes trailer lines, splitting on the first colon only", () => {
    const payload = new TextEncoder().encode("grpc-status:14\r\nGrpc-Message:host:port down\r\nx-a: b \r\n");
    expect(decodeTrailers(payload)).toEqual([
      ["grpc-status", "14"],
      ["grpc-message", "host:port down"],
      ["x-a", "b"],
    ]);
    expect(() => decodeTrailers(new TextEncoder().encode("no colon\r\n"))).toThrow(/no "name:" prefix/);
  });

  it("reassembles frames split across chunks at every possible boundary", () => {
    const stream = new Uint8Array([
      ...encodeMessageFrame(bytes(10, 11, 12, 13)),
      ...encodeMessageFrame(new Uint8Array(0)),
      ...encodeTrailerFrame(0, "ok"),
    ]);
    for (let cut = 0; cut <= stream.length; cut++) {
      for (let cut2 = cut; cut2 <= stream.length; cut2 += 3) {
        const decoder = new FrameDecoder();
        const frames = [
          ...decoder.push(stream.slice(0, cut)),
          ...decoder.push(stream.slice(cut, cut2)),
          ...decoder.push(stream.slice(cut2)),
        ];
        expect(frames.map((f) => f.flag)).toEqual([MESSAGE_FLAG, MESSAGE_FLAG, TRAILER_FLAG]);
        expect([...(frames[0]?.payload ?? [])]).toEqual([10, 11, 12, 13]);
        expect(frames[1]?.payload.length).toBe(0);
        expect(decodeTrailers(frames[2]?.payload ?? new Uint8Array(0))).toEqual([
          ["grpc-status", "0"],
          ["grpc-message", "ok"],
        ]);
        expect(decoder.pendingBytes).toBe(0);
      }
    }
  });

  it("assembles a large frame from many small chunks, and refuses one over the limit at its header", () => {
    const payload = Buffer.alloc(100_000, "liver");
    const stream = Buffer.concat([encodeMessageFrame(payload), encodeMessageFrame(bytes(7))]);
    const decoder = new FrameDecoder(100_000);
    const frames = [];
    for (let at = 0; at < stream.length; at += 1_000)
      frames.push(...decoder.push(stream.subarray(at, at + 1_000)));
    expect(frames.map((f) => f.payload.length)).toEqual([100_000, 1]);
    expect(payload.equals(frames[0]?.payload ?? bytes())).toBe(true);
    expect(decoder.pendingBytes).toBe(0);
    expect(() => new FrameDecoder(99_999).push(stream.subarray(0, 5))).toThrow(
      /frame of 100000 bytes exceeds the limit of 99999 bytes/,
    );
  });

  it("copies each byte of a large frame arriving in many chunks once (no re-joining per chunk)", () => {
    const payload = new Uint8Array(1024 * 1024).fill(7);
    const stream = encodeMessageFrame(payload);
    const decoder = new FrameDecoder(MAX_FRAME_LENGTH);
    // The real TypedArray copy, taken from its own prototype so the spy can call through.
    const originalSet = Reflect.get(Object.getPrototypeOf(Uint8Array.prototype) as object, "set") as (
      this: Uint8Array,
      source: ArrayLike<number>,
      offset?: number,
    ) => void;
    let copied = 0;
    const set = vi.spyOn(Uint8Array.prototype, "set").mockImplementation(function (
      this: Uint8Array,
      source: ArrayLike<number>,
      offset?: number,
    ) {
      copied += source.length;
      originalSet.call(this, source, offset);
    });
    const slice = vi.spyOn(Uint8Array.prototype, "slice");
    const frames = [];
    try {
      for (let at = 0; at < stream.length; at += 256)
        frames.push(...decoder.push(stream.subarray(at, at + 256)));
    } finally {
      set.mockRestore();
      slice.mockRestore();
    }
    expect(slice).not.toHaveBeenCalled();
    expect(frames.map((f) => f.payload.length)).toEqual([payload.length]);
    expect(frames[0]?.payload.every((b) => b === 7)).toBe(true);
    // 4,097 chunks: a reader that re-joined its buffer per chunk would copy ~2 GB here.
    expect(copied).toBeLessThanOrEqual(stream.length);
  });

  it("keeps an incomplete frame pending", () => {
    const decoder = new FrameDecoder();
    expect(decoder.push(encodeMessageFrame(bytes(1, 2, 3)).slice(0, 6))).toEqual([]);
    expect(decoder.pendingBytes).toBe(6);
  });
});

describe("grpc-message percent-encoding", () => {
  it("escapes %, control characters and non-ASCII as UTF-8 bytes", () => {
    expect(encodeGrpcMessage("100% sure")).toBe("100%25 sure");
    expect(encodeGrpcMessage("line\nbreak")).toBe("line%0Abreak");
    expect(encodeGrpcMessage("albumin ≥ 0.9 g/dL")).toBe("albumin %E2%89%A5 0.9 g/dL");
  });

  it("round-trips any text and leaves malformed escapes alone", () => {
    for (const text of ["", "plain", "tab\tand % and ü and 😀", "%zz"]) {
      expect(decodeGrpcMessage(encodeGrpcMessage(text))).toBe(text);
    }
    expect(decodeGrpcMessage("50%zz")).toBe("50%zz");
    expect(decodeGrpcMessage("%E2%89%A5")).toBe("≥");
  });
});

describe("trailers", () => {
  it("tolerates bare LF and joins repeated names into one map entry", () => {
    const trailers = trailerMap(new TextEncoder().encode("Grpc-Status: 3\nx-a:1\r\nx-a:2\n"));
    expect([...trailers]).toEqual([
      ["grpc-status", "3"],
      ["x-a", "1, 2"],
    ]);
  });

  it("refuses a line without a name", () => {
    expect(() => trailerMap(new TextEncoder().encode(":3\r\n"))).toThrow(/no "name:" prefix/);
  });
});

describe("grpc-timeout", () => {
  it("uses the smallest unit that fits 8 digits, rounded up, never shortening the deadline", () => {
    expect(formatGrpcTimeout(10_000)).toBe("10000m");
    expect(formatGrpcTimeout(0.2)).toBe("1m");
    expect(formatGrpcTimeout(0)).toBe("0m");
    expect(formatGrpcTimeout(100_000_000)).toBe("100000S");
    for (const ms of [1, 99_999_999, 100_000_000, 3e12, 1e20]) {
      const text = formatGrpcTimeout(ms);
      expect(text).toMatch(/^\d{1,8}[HMSm]$/);
      expect(parseGrpcTimeout(text)).toBeGreaterThanOrEqual(Math.min(ms, 99_999_999 * 3_600_000));
    }
  });

  it("refuses negative and non-finite deadlines", () => {
    expect(() => formatGrpcTimeout(-1)).toThrow(RangeError);
    expect(() => formatGrpcTimeout(Number.POSITIVE_INFINITY)).toThrow(/finite/);
    expect(() => formatGrpcTimeout(Number.NaN)).toThrow(/finite/);
  });
});
