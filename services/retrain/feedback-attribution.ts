import { BlockList, isIP } from "node:net";
import type { Metadata } from "@grpc/grpc-js";

/** Where a feedback came from, as stored with it. */
export interface FeedbackOrigin {
  /** The peer as the gRPC server saw it ("host:port", or "unknown"). */
  readonly peer: string;
  /** The client address the gateway appended to x-forwarded-for; '' when absent or not trusted. */
  readonly clientAddress: string;
  /** The authenticated caller ("issuer|subject"); '' while callers do not authenticate. */
  readonly principal: string;
  /**
   * The key of per-source limits and review filters: the principal, else the client address
   * (an IPv6 one as its /64), else the peer's host likewise.
   */
  readonly source: string;
}

/** Default TRUSTED_GATEWAY_ADDRESSES: the loopback networks, where the local bridge runs. */
export const DEFAULT_TRUSTED_GATEWAY_ADDRESSES = "127.0.0.1/8,::1/128";

/**
 * Longest tail of x-forwarded-for that is looked at: the last entry is one address (at most
 * 45 characters for IPv6 with an embedded IPv4), so a longer last entry is garbage anyway,
 * and a huge header costs no more than a short one.
 */
const MAX_ENTRY_LENGTH = 64;

/** A TRUSTED_GATEWAY_ADDRESSES entry that is not an IP address or CIDR block. */
export class TrustedAddressError extends Error {}

/**
 * Parses a comma-separated list of IP addresses and CIDR blocks (IPv4 and IPv6) into a
 * node:net BlockList. Throws TrustedAddressError naming the first bad entry. An empty
 * string trusts nobody: forwarded addresses are then always ignored.
 */
export function parseTrustedAddresses(list: string, setting = "TRUSTED_GATEWAY_ADDRESSES"): BlockList {
  const blockList = new BlockList();
  for (const raw of list.split(",")) {
    const entry = raw.trim();
    if (entry === "") continue;
    const slash = entry.indexOf("/");
    const address = slash === -1 ? entry : entry.slice(0, slash);
    const family = isIP(address);
    if (family === 0) {
      throw new TrustedAddressError(
        `${setting} entry "${entry}" is not an IP address or CIDR block; expected for example 10.0.0.0/8, 192.168.1.5 or fd00::/8`,
      );
    }
    const type = family === 4 ? "ipv4" : "ipv6";
    if (slash === -1) {
      blockList.addAddress(address, type);
      continue;
    }
    const prefixText = entry.slice(slash + 1);
    const maxPrefix = family === 4 ? 32 : 128;
    const prefix = /^\d{1,3}$/.test(prefixText) ? Number(prefixText) : Number.NaN;
    if (!(prefix >= 0 && prefix <= maxPrefix)) {
      throw new TrustedAddressError(
        `${setting} entry "${entry}" has prefix length "${prefixText}"; expected 0 to ${maxPrefix} for an IPv${family} block`,
      );
    }
    blockList.addSubnet(address, prefix, type);
  }
  return blockList;
}

/**
 * The address part of a gRPC peer string ("1.2.3.4:5678", "::1:5678" as grpc-js writes
 * IPv6 without brackets, "[::1]:5678", or a bare address); undefined when none is found.
 * IPv4-mapped IPv6 addresses (::ffff:1.2.3.4) come back as plain IPv4.
 */
export function peerAddress(peer: string): string | undefined {
  const withPort = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(peer);
  const host = withPort?.[1];
  if (host !== undefined && isIP(host) !== 0) return unmapIpv4(host);
  if (isIP(peer) !== 0) return unmapIpv4(peer);
  return undefined;
}

/** "::ffff:1.2.3.4" as "1.2.3.4"; other addresses unchanged. */
function unmapIpv4(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

/**
 * One spelling per address, so that an attacker cannot become many sources by writing one
 * address many ways: IPv4 as is; IPv6 lowercased and compressed as the WHATWG URL parser
 * serializes it (RFC 5952), an IPv4-mapped one in either form as plain IPv4. Zone ids
 * (fe80::1%eth0) and anything else that is no address give undefined.
 */
export function canonicalAddress(address: string): string | undefined {
  const family = isIP(address);
  if (family === 4) return address;
  if (family !== 6 || address.includes("%")) return undefined;
  let host: string;
  try {
    host = new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return undefined;
  }
  const hexMapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(host);
  if (hexMapped !== null) {
    const high = Number.parseInt(hexMapped[1] ?? "0", 16);
    const low = Number.parseInt(hexMapped[2] ?? "0", 16);
    return `${high >> 8}.${high & 0xff}.${low >> 8}.${low & 0xff}`;
  }
  return unmapIpv4(host);
}

/**
 * The per-source key of a canonical address: an IPv4 address itself; an IPv6 address its
 * /64, which is one subscriber's usual allocation, so rotating addresses inside it does not
 * make new sources (RFC 6177 leaves /48 to /64 to a site).
 */
export function addressSourceKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const [head = "", tail] = address.split("::");
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill("0"), ...right];
  return `${groups.slice(0, 4).join(":")}::/64`;
}

/**
 * Who sent a call: the peer as the server saw it, and the client address the gateway
 * appended to x-forwarded-for, believed only when the peer itself is a trusted gateway
 * (anyone else could write any x-forwarded-for). Only the last entry counts: that is the
 * one the gateway appended; entries before it were written by the client and prove nothing.
 */
export class FeedbackAttribution {
  constructor(private readonly trustedGateways: BlockList) {}

  /** The origin of a call from its peer string and metadata; never throws on bad input. */
  origin(peer: string, metadata: Metadata, principal = ""): FeedbackOrigin {
    const host = peerAddress(peer);
    const clientAddress = host !== undefined && this.isTrusted(host) ? forwardedClient(metadata) : "";
    const address =
      clientAddress !== "" ? clientAddress : host === undefined ? undefined : canonicalAddress(host);
    const source = principal !== "" ? principal : address !== undefined ? addressSourceKey(address) : peer;
    return { peer, clientAddress, principal, source };
  }

  /** Whether an address belongs to a trusted gateway. */
  isTrusted(address: string): boolean {
    return this.trustedGateways.check(address, isIP(address) === 6 ? "ipv6" : "ipv4");
  }
}

/** The last x-forwarded-for entry when it is an IP address; '' otherwise (absent, garbage, a port). */
function forwardedClient(metadata: Metadata): string {
  const values = metadata.get("x-forwarded-for");
  const last = values.at(-1);
  if (typeof last !== "string") return "";
  const tail = last.length > MAX_ENTRY_LENGTH * 2 ? last.slice(-MAX_ENTRY_LENGTH * 2) : last;
  const entry = tail.slice(tail.lastIndexOf(",") + 1).trim();
  if (entry.length > MAX_ENTRY_LENGTH) return "";
  return canonicalAddress(entry) ?? "";
}
