import { describe, expect, it } from "vitest";
import { encodeMessageFrame, FrameDecoder } from "../grpc-web-framing.js";
import { decodeGrpcWebText, encodeGrpcWebText } from "./grpc-web-text.js";

describe("grpc-web-text bodies", () => {
  it("round-trips frames through base64", () => {
    const frame = encodeMessageFrame(Uint8Array.from([0, 1, 2, 250, 251, 252, 253]));
    expect([...decodeGrpcWebText(encodeGrpcWebText(frame))]).toEqual([...frame]);
  });

  it("decodes independently padded chunks sent back to back", () => {
    const a = encodeMessageFrame(Uint8Array.from([1, 9])); // 7 bytes: one padding character
    const b = encodeMessageFrame(Uint8Array.from([2, 3]));
    const body = encodeGrpcWebText(a) + encodeGrpcWebText(b);
    expect(body.indexOf("=")).toBeLessThan(body.length - 2); // padding in the middle
    const frames = new FrameDecoder().push(decodeGrpcWebText(body));
    expect(frames.map((f) => [...f.payload])).toEqual([
      [1, 9],
      [2, 3],
    ]);
  });

  it("ignores line breaks and accepts unpadded tails", () => {
    expect(decodeGrpcWebText("QUJD\r\nRA").toString()).toBe("ABCD");
  });

  it("refuses characters outside base64 and impossible chunk lengths, saying where", () => {
    expect(() => decodeGrpcWebText("QUJD!A==")).toThrow(/unexpected "!" at offset 4/);
    expect(() => decodeGrpcWebText("QQ===")).toThrow(/chunk of 1 characters/);
    expect(() => decodeGrpcWebText("QUJDR")).toThrow(/chunk of 5 characters/);
    expect(() => decodeGrpcWebText("QUJ=QQ==")).not.toThrow();
    expect(() => decodeGrpcWebText("QU=")).toThrow(/chunk of 3 characters/);
  });
});
