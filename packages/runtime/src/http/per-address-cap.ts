import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { addressGroup } from './client-address';

/**
 * Caps the TCP connections one address (an IPv6 /64: addressGroup) holds on a server at once;
 * one past it is closed as soon as it is accepted. For the ops ports, which have no cap of their
 * own: their callers are a kubelet and a Prometheus or two, each from its own address, so one
 * address holding more is a flood, and the descriptors it held were the process's, whose client
 * port then had none left for its clients. A total cap there instead would let the same flood
 * take the kubelet's slots, fail the liveness probe and restart the pod.
 */
export function capConnectionsPerAddress(server: Server, max: number): void {
  const open = new Map<string, number>();
  server.on('connection', (socket: Socket) => {
    const address = addressGroup(socket.remoteAddress ?? 'unknown');
    const count = (open.get(address) ?? 0) + 1;
    if (count > max) return void socket.destroy();
    open.set(address, count);
    socket.once('close', () => {
      const left = (open.get(address) ?? 1) - 1;
      if (left > 0) open.set(address, left);
      else open.delete(address);
    });
  });
}
