/**
 * The gateways whose forwarded headers a service believes (TRUSTED_GATEWAY_ADDRESSES): the
 * client address in x-forwarded-for and the site in x-liver-site. Read by Predict and Retrain.
 */
import { BlockList, isIP } from "node:net";

/** Default TRUSTED_GATEWAY_ADDRESSES: the loopback networks, where the local bridge runs. */
export const DEFAULT_TRUSTED_GATEWAY_ADDRESSES = "127.0.0.1/8,::1/128";

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
export function unmapIpv4(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address);
  return mapped?.[1] ?? address;
}

/** Whether the peer of a call (a gRPC peer string) is one of the trusted gateways. */
export function isTrustedPeer(trustedGateways: BlockList, peer: string): boolean {
  const host = peerAddress(peer);
  return host !== undefined && trustedGateways.check(host, isIP(host) === 6 ? "ipv6" : "ipv4");
}
