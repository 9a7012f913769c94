/**
 * Bounds on open WatchModelVersions streams. The method is open (Predict replicas and signed-out
 * pages follow the serving version), so without a bound one client could hold thousands of
 * streams, each a slot the broadcaster writes every event and heartbeat to. A client is the
 * feedback attribution's source (FeedbackAttribution): the address a trusted gateway forwarded,
 * else the peer's address (an IPv6 one as its /64), so rotating x-forwarded-for from an
 * untrusted peer, or ports, does not make new clients. The total bound keeps many clients
 * together within what one process serves, and applies to two pools apart: clients behind a
 * gateway (browsers) and peers that call directly (Predict replicas; in the cluster the
 * network policy lets only them and the gateway in), so pages from many addresses can never
 * take the slots a restarting replica needs to hear promotions and rollbacks.
 */

/** Default streams one client may hold open: a replica needs one, a browser one per tab. */
export const DEFAULT_WATCH_STREAMS_PER_CLIENT = 64;
/** Default streams the whole server holds open. */
export const DEFAULT_WATCH_STREAMS_TOTAL = 4_096;

/** A stream's place in the quota; `release` is idempotent (a call ends through several events). */
export interface WatchStreamGrant {
  release(): void;
}

/** Counts open streams per client and per pool, and refuses past either bound. */
export class WatchStreamQuota {
  private readonly open = new Map<string, number>();
  /** Open streams of clients a gateway forwarded, and of direct peers. */
  private readonly pools = { forwarded: 0, direct: 0 };

  constructor(
    private readonly perClient: number = DEFAULT_WATCH_STREAMS_PER_CLIENT,
    private readonly overall: number = DEFAULT_WATCH_STREAMS_TOTAL,
  ) {}

  /**
   * A grant for one more stream of `client` (`forwarded`: a trusted gateway named it), or the
   * refusal's message naming the bound.
   */
  acquire(client: string, forwarded: boolean): WatchStreamGrant | string {
    const pool = forwarded ? "forwarded" : "direct";
    const held = this.open.get(client) ?? 0;
    if (held >= this.perClient) {
      return (
        `this client already holds ${held} open WatchModelVersions streams (limit ${this.perClient}, ` +
        "WATCH_STREAMS_PER_CLIENT); close one or retry later"
      );
    }
    if (this.pools[pool] >= this.overall) {
      return (
        `the server holds ${this.pools[pool]} open WatchModelVersions streams ` +
        `${forwarded ? "from clients behind gateways" : "from direct peers"} (limit ${this.overall}, ` +
        "WATCH_STREAMS_TOTAL); retry later"
      );
    }
    this.open.set(client, held + 1);
    this.pools[pool]++;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        this.pools[pool]--;
        const left = (this.open.get(client) ?? 1) - 1;
        if (left === 0) this.open.delete(client);
        else this.open.set(client, left);
      },
    };
  }
}
