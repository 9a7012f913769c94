/**
 * A TCP proxy for tests that can hold back everything the server sends and then cut the
 * connections, dropping what it held: from the client's side exactly "the service committed
 * the call and died before its answer left". Plain bytes, so it works under HTTP/2 and TLS.
 */
import { once } from "node:events";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";

/** Forwards 127.0.0.1:<port> to `target`; see the module comment. */
export class HoldingProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private holding = false;

  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => this.accept(client));
  }

  /** Starts listening; resolves with the port. */
  async listen(): Promise<number> {
    this.server.listen(0, "127.0.0.1");
    await once(this.server, "listening");
    return (this.server.address() as AddressInfo).port;
  }

  /** From now on, nothing the server sends reaches the client. */
  hold(): void {
    this.holding = true;
  }

  /** Drops what was held and every open connection, then forwards normally again. */
  cut(): void {
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
    this.holding = false;
  }

  async close(): Promise<void> {
    this.cut();
    this.server.close();
    await once(this.server, "close");
  }

  private accept(client: Socket): void {
    const upstream = connect(this.target.port, this.target.host);
    this.sockets.add(client);
    this.sockets.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on("data", (chunk) => upstream.write(chunk));
    upstream.on("data", (chunk) => {
      if (!this.holding) client.write(chunk);
    });
    client.on("error", end);
    upstream.on("error", end);
    client.on("close", end);
    upstream.on("close", end);
  }
}
