import { status, type Metadata } from "@grpc/grpc-js";
import type { BlockList } from "node:net";
import type { Caller } from "../auth/caller.js";
import { grpcError, type GrpcStatusError } from "../grpc/grpc-errors.js";
import { isTrustedPeer } from "../net/trusted-gateways.js";
import { DEFAULT_SITE, SITE_HEADER, siteNameProblem } from "./site-name.js";
import { RpcFailure } from "../grpc/rpc-failure.js";

/** A call whose site cannot be settled: the status to answer with. */
export class SiteRefusal extends RpcFailure {
  constructor(status: GrpcStatusError) {
    super(status);
    this.name = "SiteRefusal";
  }
}

/**
 * Decides a call's site, so that no caller can pick another site's calibration by itself:
 *  - a signed-in caller's site is its JWT's site claim (AUTH_SITE_CLAIM); a trusted gateway's
 *    x-liver-site that names another site is refused (the two disagree);
 *  - otherwise x-liver-site, believed only from TRUSTED_GATEWAY_ADDRESSES; from any other
 *    peer it is refused, never silently used or dropped;
 *  - otherwise the deployment's default site.
 * Names are validated (siteNameProblem); a bad one is INVALID_ARGUMENT naming its origin.
 */
export class SiteResolver {
  constructor(private readonly trustedGateways: BlockList) {}

  /** The site of a call from `peer` with `metadata`, made by `caller` (undefined: no sign-in). */
  resolve(peer: string, metadata: Metadata, caller: Caller | undefined): string {
    const header = this.headerSite(peer, metadata);
    const claimed = caller?.site;
    if (claimed !== undefined) {
      const problem = siteNameProblem(claimed);
      if (problem !== undefined) {
        throw new SiteRefusal(
          grpcError(
            status.INVALID_ARGUMENT,
            `the access token's site claim ${problem}; ask your identity provider's administrator to fix it`,
          ),
        );
      }
      if (header !== undefined && header !== claimed) {
        throw new SiteRefusal(
          grpcError(
            status.PERMISSION_DENIED,
            `the gateway says site ${header} (${SITE_HEADER}) but the access token says site ${claimed}; the two must agree`,
          ),
        );
      }
      return claimed;
    }
    return header ?? DEFAULT_SITE;
  }

  /** The gateway-set site, undefined when there is no header. */
  private headerSite(peer: string, metadata: Metadata): string | undefined {
    const values = metadata.get(SITE_HEADER);
    if (values.length === 0) return undefined;
    if (!isTrustedPeer(this.trustedGateways, peer)) {
      throw new SiteRefusal(
        grpcError(
          status.PERMISSION_DENIED,
          `${SITE_HEADER} is believed only from a trusted gateway (TRUSTED_GATEWAY_ADDRESSES), and ${peer} is none; call through the gateway of your site`,
        ),
      );
    }
    if (values.length > 1) {
      throw new SiteRefusal(
        grpcError(
          status.INVALID_ARGUMENT,
          `${SITE_HEADER} appears ${values.length} times; a call has one site`,
        ),
      );
    }
    const value = values[0];
    const name = typeof value === "string" ? value : "";
    const problem = siteNameProblem(name);
    if (problem !== undefined) {
      throw new SiteRefusal(grpcError(status.INVALID_ARGUMENT, `${SITE_HEADER} ${problem}`));
    }
    return name;
  }
}
