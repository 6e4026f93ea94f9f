import { createConnection, createServer, Server, Socket } from 'node:net';

/**
 * A TCP proxy in front of a real Postgres or Redis, so that a test can make the dependency go
 * away for the application (every connection cut, new ones refused) and come back, without
 * touching the server other processes use.
 */
export class TcpProxy {
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  /** Bytes sent towards the dependency, and what to do when they pass a mark (`cutAfter`). */
  private sent = 0;
  private mark?: { at: number; reached: () => void };
  port = 0;

  constructor(
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  static for(url: string): TcpProxy {
    const parsed = new URL(url);
    return new TcpProxy(parsed.hostname, Number(parsed.port));
  }

  /** The same URL, through the proxy. */
  url(original: string): string {
    const parsed = new URL(original);
    parsed.hostname = '127.0.0.1';
    parsed.port = String(this.port);
    return parsed.toString();
  }

  async start(): Promise<this> {
    this.server = createServer((client) => {
      const upstream = createConnection(this.targetPort, this.targetHost);
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => socket.destroy());
      }
      client.on('data', (data: Buffer) => {
        this.sent += data.length;
        if (this.mark && this.sent >= this.mark.at) {
          const { reached } = this.mark;
          this.mark = undefined;
          void this.cut().then(reached);
        }
      });
      client.pipe(upstream).pipe(client);
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((resolve) => this.server!.listen(this.port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** The dependency is down: open connections drop, new ones are refused. */
  async cut(): Promise<void> {
    const closed = new Promise((resolve) => this.server?.close(resolve));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  /**
   * Cuts (as `cut`) once `bytes` more have been sent towards the dependency: in the middle of a
   * large request. Resolves when it is cut.
   */
  cutAfter(bytes: number): Promise<void> {
    return new Promise((reached) => (this.mark = { at: this.sent + bytes, reached }));
  }

  /** The dependency is back, on the same port. */
  async restore(): Promise<void> {
    await this.start();
  }

  async stop(): Promise<void> {
    await this.cut().catch(() => undefined);
  }
}
