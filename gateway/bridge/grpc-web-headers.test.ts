import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  isHttpOnlyHeader,
  metadataToHeaders,
  parseGrpcTimeout,
  requestMetadata,
} from "./grpc-web-headers.js";

describe("request metadata", () => {
  it("forwards call metadata and drops HTTP-only, browser and grpc-web headers", () => {
    const md = requestMetadata({
      host: "localhost:5000",
      connection: "keep-alive",
      "content-type": "application/grpc-web+proto",
      "content-length": "12",
      cookie: "session=1",
      origin: "https://liver.example.org",
      "sec-fetch-mode": "cors",
      "user-agent": "Mozilla/5.0",
      "x-grpc-web": "1",
      "x-user-agent": "grpc-web-javascript/0.1",
      "grpc-timeout": "5S",
      "x-request-id": "abc-123",
      "x-trace-bin": Buffer.from([1, 2, 255]).toString("base64"),
    });
    expect(Object.keys(md.getMap()).sort()).toEqual(["x-request-id", "x-trace-bin"]);
    expect(md.get("x-request-id")).toEqual(["abc-123"]);
    expect(md.get("x-trace-bin")).toEqual([Buffer.from([1, 2, 255])]);
  });

  it("splits repeated binary values but keeps commas in text values", () => {
    const md = requestMetadata({ "x-b-bin": "AQ==, Ag==", "x-note": "a, b" });
    expect(md.get("x-b-bin")).toEqual([Buffer.from([1]), Buffer.from([2])]);
    expect(md.get("x-note")).toEqual(["a, b"]);
  });

  it("turns metadata into header pairs, base64 for binary, every value kept", () => {
    const md = new Metadata();
    md.add("x-a", "1");
    md.add("x-a", "2");
    md.add("x-b-bin", Buffer.from([0xff]));
    expect(metadataToHeaders(md)).toEqual([
      ["x-a", "1"],
      ["x-a", "2"],
      ["x-b-bin", "/w=="],
    ]);
  });

  it("classifies hop and browser headers", () => {
    expect(isHttpOnlyHeader("transfer-encoding")).toBe(true);
    expect(isHttpOnlyHeader("sec-ch-ua")).toBe(true);
    expect(isHttpOnlyHeader("grpc-status")).toBe(true);
    expect(isHttpOnlyHeader("x-request-id")).toBe(false);
  });
});

describe("grpc-timeout", () => {
  it("reads every unit", () => {
    expect(parseGrpcTimeout("2H")).toBe(7_200_000);
    expect(parseGrpcTimeout("3M")).toBe(180_000);
    expect(parseGrpcTimeout("5S")).toBe(5_000);
    expect(parseGrpcTimeout("250m")).toBe(250);
    expect(parseGrpcTimeout("1500u")).toBe(1.5);
    expect(parseGrpcTimeout("99999999n")).toBeCloseTo(99.999999);
  });

  it("refuses malformed values naming the syntax", () => {
    for (const bad of ["", "5", "S", "123456789S", "1.5S", "5s", "-1S"]) {
      expect(() => parseGrpcTimeout(bad), bad).toThrow(/1 to 8 digits followed by one of H, M, S, m, u, n/);
    }
  });
});
