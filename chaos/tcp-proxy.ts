// A fault-injecting TCP proxy for one edge, Toxiproxy's model in Node: every
// client connection gets its own upstream connection and two links (client
// to upstream, upstream to client) that pass the bytes through the toxics as
// stream stages (tcp-link.ts). It forwards anything that runs over TCP, which
// is what an HTTP/2 (gRPC) edge needs: an HTTP/1.1 proxy cannot carry it.
//
// Toxicity is drawn per connection, as Toxiproxy does, from a random stream
// derived from the proxy's seed and the connection's number, so a replay with
// the same seed and the same connection order selects the same connections.
// Half-closes are passed on (each side's FIN reaches the other after the
// data before it), which is what slow_close delays.

import { connect, createServer, type Server, type Socket } from 'node:net';
import { InvalidSpecError } from './errors.ts';
import type { Fault } from './fault.ts';
import { createProxyCore, type FaultProxy, type ProxyOptions, type ProxyOutcome } from './fault-proxy.ts';
import { createGate } from './gate.ts';
import { createLink, type Link } from './tcp-link.ts';
import { deriveSeed, mulberry32 } from '../demo-services/kit/random.ts';

export type TcpProxyOptions = ProxyOptions;

/** The host and port of a tcp-mode upstream. */
export function upstreamAddress(upstream: string): { host: string; port: number } {
  const match = /^(?:(?:tcp|http):\/\/)?(?:\[([^\]]+)\]|([^:/\s]+)):(\d{1,5})\/?$/i.exec(upstream.trim());
  const port = match ? Number(match[3]) : NaN;
  if (!match || !(port >= 1 && port <= 65535)) {
    throw new InvalidSpecError([{ field: 'upstream', message: `"${upstream}" is not host:port, tcp://host:port or http://host:port (port 1..65535)` }]);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

/** How long a toxic's close waits for what was passed on to be flushed before cutting. */
const CLOSE_FLUSH_MS = 5_000;

interface Connection {
  links: [Link, Link];
  teardown(): void;
}

function destroyWhenDone(socket: Socket): void {
  const check = (): void => {
    if (socket.readableEnded && socket.writableFinished) socket.destroy();
  };
  socket.on('end', check);
  socket.on('finish', check);
}

export async function createTcpProxy(options: TcpProxyOptions): Promise<FaultProxy> {
  let target = upstreamAddress(options.upstream);
  const seed = options.seed ?? 0;
  const count = (outcome: ProxyOutcome): void => options.onOutcome?.(outcome);
  const connections = new Set<Connection>();
  let opened = 0;
  let faultsNow: () => readonly Fault[] = () => [];
  const gate = createGate();

  function handle(client: Socket): void {
    const number = opened;
    opened += 1;
    client.setNoDelay(true);
    const upstream = connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true });
    let done = false;
    let cutByToxic = false;

    const teardown = (reset = false): void => {
      if (done) return;
      done = true;
      connection.links[0].stop();
      connection.links[1].stop();
      connections.delete(connection);
      if (reset) {
        client.resetAndDestroy();
        upstream.resetAndDestroy();
      } else {
        client.destroy();
        upstream.destroy();
      }
    };
    const controls = {
      close(): void {
        if (done) return;
        if (!cutByToxic) count('injected_error');
        cutByToxic = true;
        connection.links[0].stop();
        connection.links[1].stop();
        // What was passed on is flushed, then both peers get a FIN; a peer that never reads is cut after a while.
        let flushed = 0;
        const onFlushed = (): void => {
          flushed += 1;
          if (flushed === 2) teardown();
        };
        client.end(onFlushed);
        upstream.end(onFlushed);
        setTimeout(() => teardown(), CLOSE_FLUSH_MS).unref();
      },
      reset(): void {
        if (done) return;
        if (!cutByToxic) count('injected_error');
        cutByToxic = true;
        teardown(true);
      },
    };
    const connectionSeed = deriveSeed(seed, number);
    const connection: Connection = {
      links: [
        createLink({
          direction: 'upstream',
          source: client,
          dest: upstream,
          gate,
          random: mulberry32(deriveSeed(connectionSeed, 'upstream')),
          controls,
        }),
        createLink({
          direction: 'downstream',
          source: upstream,
          dest: client,
          gate,
          random: mulberry32(deriveSeed(connectionSeed, 'downstream')),
          controls,
        }),
      ],
      teardown: () => teardown(),
    };
    connections.add(connection);
    const faults = faultsNow();
    connection.links[0].refresh(faults);
    connection.links[1].refresh(faults);

    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      count('forwarded');
    });
    destroyWhenDone(client);
    destroyWhenDone(upstream);
    for (const [socket, other] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (socket === upstream && !connected && !done) count('upstream_error');
        // A peer that reset its side gets its reset passed on, as a real connection would.
        teardown(error.code === 'ECONNRESET' && !other.destroyed);
      });
      socket.on('close', () => {
        // Closed before its FIN arrived (destroyed, reset): the other side goes too. Closed after its
        // FIN and after everything was written to it: the other direction may still be delivering.
        if (!socket.readableEnded) teardown();
        else if (client.destroyed && upstream.destroyed) teardown();
      });
    }
  }

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: false }, handle);

  const core = await createProxyCore({
    name: options.name,
    mode: 'tcp',
    host: options.listenHost ?? '127.0.0.1',
    port: options.listenPort ?? 0,
    upstream: options.upstream,
    enabled: false,
    server,
    gate,
    dropConnections: () => {
      for (const connection of [...connections]) connection.teardown();
    },
    ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    onFaultsChanged(faults) {
      for (const connection of [...connections]) {
        connection.links[0].refresh(faults);
        connection.links[1].refresh(faults);
      }
    },
    async switchUpstream(next) {
      target = upstreamAddress(next);
    },
    dispose: async () => {
      for (const connection of [...connections]) connection.teardown();
    },
  });
  faultsNow = () => core.faults.current;
  if (options.enabled !== false) {
    try {
      await core.proxy.setEnabled(true);
    } catch (error) {
      await core.proxy.close();
      throw error;
    }
  }
  return core.proxy;
}
