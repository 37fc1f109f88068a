import { connect, type Socket } from 'node:net';

/** TCP connections that send nothing (a flood of bare connects), and how many of them the server has closed. */
export interface BareConnections {
  sockets: Socket[];
  closedByServer(): number;
  destroy(): void;
}

/** Opens `count` bare TCP connections to 127.0.0.1:`port`; resolves once every one has connected. */
export async function bareConnections(port: number, count: number): Promise<BareConnections> {
  let closed = 0;
  let destroying = false;
  const sockets = await Promise.all(
    Array.from({ length: count }, () => new Promise<Socket>((resolve) => {
      const socket: Socket = connect(port, '127.0.0.1', () => resolve(socket));
      socket.on('error', () => undefined);
      socket.on('close', () => destroying || closed++);
    })),
  );
  return {
    sockets,
    closedByServer: () => closed,
    destroy: () => {
      destroying = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}
