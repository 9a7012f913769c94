import { Metadata } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  addressSourceKey,
  canonicalAddress,
  DEFAULT_TRUSTED_GATEWAY_ADDRESSES,
  FeedbackAttribution,
  parseTrustedAddresses,
  peerAddress,
  TrustedAddressError,
} from "./feedback-attribution.js";

function xff(...values: string[]): Metadata {
  const metadata = new Metadata();
  for (const value of values) metadata.add("x-forwarded-for", value);
  return metadata;
}

const byDefault = new FeedbackAttribution(parseTrustedAddresses(DEFAULT_TRUSTED_GATEWAY_ADDRESSES));

describe("parseTrustedAddresses", () => {
  it("accepts addresses and CIDR blocks of both families", () => {
    const list = parseTrustedAddresses(" 10.0.0.0/8, 192.168.1.5 ,fd00::/8,2001:db8::1");
    expect(list.check("10.200.3.4", "ipv4")).toBe(true);
    expect(list.check("11.0.0.1", "ipv4")).toBe(false);
    expect(list.check("192.168.1.5", "ipv4")).toBe(true);
    expect(list.check("192.168.1.6", "ipv4")).toBe(false);
    expect(list.check("fd12::7", "ipv6")).toBe(true);
    expect(list.check("2001:db8::1", "ipv6")).toBe(true);
    expect(list.check("2001:db8::2", "ipv6")).toBe(false);
  });

  it("trusts nobody when empty", () => {
    const attribution = new FeedbackAttribution(parseTrustedAddresses(""));
    expect(attribution.origin("127.0.0.1:5000", xff("203.0.113.9")).clientAddress).toBe("");
  });

  it.each([
    ["localhost", /"localhost" is not an IP address or CIDR block/],
    ["10.0.0.0/33", /prefix length "33"; expected 0 to 32/],
    ["fd00::/129", /prefix length "129"; expected 0 to 128/],
    ["10.0.0.0/", /prefix length ""/],
    ["10.0.0.0/8/8", /prefix length "8\/8"/],
    ["10.0.0.0/-1", /prefix length "-1"/],
    ["300.1.1.1", /"300.1.1.1" is not an IP address/],
  ])("refuses %s with an error naming the entry and the setting", (entry, message) => {
    expect(() => parseTrustedAddresses(`127.0.0.1/8,${entry}`)).toThrow(TrustedAddressError);
    expect(() => parseTrustedAddresses(`127.0.0.1/8,${entry}`)).toThrow(message);
    expect(() => parseTrustedAddresses(entry)).toThrow(/TRUSTED_GATEWAY_ADDRESSES/);
  });
});

describe("peerAddress", () => {
  it.each([
    ["127.0.0.1:50123", "127.0.0.1"],
    ["::1:50123", "::1"],
    ["[::1]:50123", "::1"],
    ["2001:db8::7:443", "2001:db8::7"],
    ["::ffff:10.1.2.3:8080", "10.1.2.3"],
    ["10.1.2.3", "10.1.2.3"],
    ["::1", "::1"],
  ])("reads %s as %s", (peer, address) => {
    expect(peerAddress(peer)).toBe(address);
  });

  it.each(["unknown", "", "unix:/tmp/sock", "host.example:80"])("finds no address in %j", (peer) => {
    expect(peerAddress(peer)).toBeUndefined();
  });
});

describe("FeedbackAttribution.origin", () => {
  it("records the last x-forwarded-for entry from a trusted gateway, as the source", () => {
    expect(byDefault.origin("127.0.0.1:50000", xff("198.51.100.1, 203.0.113.9"))).toEqual({
      peer: "127.0.0.1:50000",
      clientAddress: "203.0.113.9",
      principal: "",
      source: "203.0.113.9",
    });
  });

  it("ignores x-forwarded-for from a peer that is not a gateway: the source is the peer's host", () => {
    const attribution = new FeedbackAttribution(parseTrustedAddresses("10.0.0.0/8"));
    expect(attribution.origin("127.0.0.1:50000", xff("203.0.113.9"))).toEqual({
      peer: "127.0.0.1:50000",
      clientAddress: "",
      principal: "",
      source: "127.0.0.1",
    });
    expect(attribution.origin("10.9.8.7:1234", xff("203.0.113.9")).clientAddress).toBe("203.0.113.9");
  });

  it("prefers the principal as the source when the caller authenticated", () => {
    expect(byDefault.origin("127.0.0.1:1", xff("203.0.113.9"), "https://idp|alice").source).toBe(
      "https://idp|alice",
    );
  });

  it("takes the last entry of the last value when the header is sent several times", () => {
    expect(byDefault.origin("[::1]:1", xff("192.0.2.1", "192.0.2.2, 2001:db8::5")).clientAddress).toBe(
      "2001:db8::5",
    );
  });

  it("writes an IPv4-mapped forwarded address as IPv4", () => {
    expect(byDefault.origin("127.0.0.1:1", xff("::ffff:192.0.2.44")).clientAddress).toBe("192.0.2.44");
  });

  it.each([
    ["garbage", "not-an-address"],
    ["a host name", "client.example.org"],
    ["an address with a port", "192.0.2.1:4000"],
    ["a trailing comma", "192.0.2.1,"],
    ["an empty value", ""],
    ["two addresses without a comma", "192.0.2.1 192.0.2.2"],
    ["an obfuscated Envoy value", "unknown"],
  ])("ignores %s (not trusted, never a crash)", (_what, value) => {
    const origin = byDefault.origin("127.0.0.1:9", xff(value));
    expect(origin.clientAddress).toBe("");
    expect(origin.source).toBe("127.0.0.1");
  });

  it("handles a huge header by its tail alone", () => {
    const huge = `${"10.0.0.1, ".repeat(100_000)}192.0.2.77`;
    expect(byDefault.origin("127.0.0.1:9", xff(huge)).clientAddress).toBe("192.0.2.77");
    expect(byDefault.origin("127.0.0.1:9", xff(`192.0.2.1, ${"9".repeat(1_000_000)}`)).clientAddress).toBe(
      "",
    );
  });

  it("falls back to the peer string when it holds no address", () => {
    expect(byDefault.origin("unknown", xff("192.0.2.1"))).toEqual({
      peer: "unknown",
      clientAddress: "",
      principal: "",
      source: "unknown",
    });
  });
});

describe("canonicalAddress and addressSourceKey: one source per client, however it is written", () => {
  it.each([
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:0db8:0000::1", "2001:db8::1"],
    ["::ffff:c000:0201", "192.0.2.1"],
    ["::FFFF:192.0.2.1", "192.0.2.1"],
    ["192.0.2.1", "192.0.2.1"],
  ])("writes %s as %s", (input, canonical) => {
    expect(canonicalAddress(input)).toBe(canonical);
  });

  it.each(["2001:db8::1%eth0", "fe80::1%1", "not-an-address", "", "1.2.3"])("refuses %j", (input) => {
    expect(canonicalAddress(input)).toBeUndefined();
  });

  it("keys IPv6 clients by their /64, so rotating addresses inside one does not make new sources", () => {
    expect(addressSourceKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressSourceKey("2001:db8:1:2:bbbb:cccc:dddd:eeee")).toBe("2001:db8:1:2::/64");
    expect(addressSourceKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressSourceKey("::1")).toBe("0:0:0:0::/64");
    expect(addressSourceKey("192.0.2.1")).toBe("192.0.2.1");
  });

  it("an attacker behind a trusted gateway writing one address many ways is one source", () => {
    const sources = new Set(
      ["2001:db8::1", "2001:DB8::1", "2001:0db8:0000::1", "2001:db8::2", "2001:db8::1%eth0"].map(
        (spelling) => byDefault.origin("127.0.0.1:5000", xff(spelling)).source,
      ),
    );
    // The zone-id spelling is no address: it falls back to the gateway itself.
    expect(sources).toEqual(new Set(["2001:db8:0:0::/64", "127.0.0.1"]));
  });

  it("a link-local peer with a zone id is one source whatever its port", () => {
    const sources = new Set(
      ["[fe80::1%eth0]:40000", "[fe80::1%eth0]:40001", "[fe80::1%2]:40002"].map(
        (peer) => byDefault.origin(peer, new Metadata()).source,
      ),
    );
    expect(sources).toEqual(new Set(["fe80:0:0:0::/64"]));
  });
});
