import { isIP, type BlockList } from "node:net";
import type { Metadata } from "@grpc/grpc-js";
import { peerAddress, unmapIpv4 } from "../shared/net/trusted-gateways.js";

export {
  DEFAULT_TRUSTED_GATEWAY_ADDRESSES,
  parseTrustedAddresses,
  peerAddress,
  TrustedAddressError,
} from "../shared/net/trusted-gateways.js";

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

/**
 * Longest tail of x-forwarded-for that is looked at: the last entry is one address (at most
 * 45 characters for IPv6 with an embedded IPv4), so a longer last entry is garbage anyway,
 * and a huge header costs no more than a short one.
 */
const MAX_ENTRY_LENGTH = 64;

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
    // The socket's own peer may carry an IPv6 zone id (fe80::1%eth0); it names the interface,
    // not the client, so it is dropped here (a forwarded entry with one stays garbage).
    const address =
      clientAddress !== ""
        ? clientAddress
        : host === undefined
          ? undefined
          : canonicalAddress(host.replace(/%.*$/, ""));
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
