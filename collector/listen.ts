// Binding one of the collector's HTTP servers (OTLP/HTTP, admin) with the
// error the lab reports: a port in use, or any other bind failure, named with
// the server, port and host.

import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CollectorError } from './collector-error.ts';

/** Listen on host:port (0 = any free port) and resolve with the bound port. */
export function listenHttp(server: Server, port: number, host: string, what: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const code = error.code === 'EADDRINUSE' ? 'EADDRINUSE' : 'BIND_FAILED';
      const reason = code === 'EADDRINUSE' ? 'is already in use' : `cannot be bound: ${error.message}`;
      reject(new CollectorError(code, `${what} port ${port} on ${host} ${reason}`, { cause: error }));
    });
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });
}
