// Shared pieces of the chaos tests: a real upstream HTTP server that records
// what reached it, a plain node:http client that returns status, headers
// and body and can be pinned to one keep-alive connection, and raw TCP
// servers and clients that record every chunk with its arrival time.

import { createHash } from 'node:crypto';
import { Agent, createServer, type IncomingHttpHeaders, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import { connect, createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, afterEach, beforeAll } from 'vitest';

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  bodyBytes: number;
  bodySha256: string;
  /** performance.now() when the request head arrived. */
  at: number;
}

export interface TestUpstream {
  url: string;
  port: number;
  seen: SeenRequest[];
  close(): Promise<void>;
}

/**
 * An upstream that answers:
 * - `GET /bytes/<n>`: n pseudo-random bytes, streamed in 64 KiB chunks, with their sha256 in `x-body-sha256`;
 * - `/status/<code>`: that status, empty body;
 * - anything else: 200 JSON echo of method, url and body size and hash, with `x-upstream: yes` and two set-cookie headers.
 */
export async function startUpstream(): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const at = performance.now();
    const hash = createHash('sha256');
    let bodyBytes = 0;
    req.on('data', (chunk: Buffer) => {
      bodyBytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => {
      const record: SeenRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        bodyBytes,
        bodySha256: hash.digest('hex'),
        at,
      };
      seen.push(record);
      const url = req.url ?? '/';
      const bytes = /^\/bytes\/(\d+)$/.exec(url);
      if (bytes) {
        const data = pseudoRandomBytes(Number(bytes[1]));
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-body-sha256': sha256(data) });
        Readable.from(chunks(data, 64 * 1024)).pipe(res);
        return;
      }
      const status = /^\/status\/(\d{3})$/.exec(url);
      if (status) {
        res.writeHead(Number(status[1])).end();
        return;
      }
      const body = JSON.stringify({ method: record.method, url: record.url, bodyBytes, bodySha256: record.bodySha256 });
      res.writeHead(200, {
        'content-type': 'application/json',
        'x-upstream': 'yes',
        'set-cookie': ['a=1; Path=/', 'b=2; Path=/'],
      });
      res.end(body);
    });
  });
  await listen(server);
  const port = (server.address() as AddressInfo).port;
  return { url: `http://127.0.0.1:${port}`, port, seen, close: () => closeServer(server) };
}

export function listen(server: Server, port = 0): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

export function pseudoRandomBytes(size: number): Buffer {
  const data = Buffer.alloc(size);
  let state = 12345;
  for (let i = 0; i < size; i += 1) {
    state = (Math.imul(state, 1103515245) + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return data;
}

export function sha256(data: Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function* chunks(data: Buffer, size: number): Generator<Buffer> {
  for (let offset = 0; offset < data.length; offset += size) yield data.subarray(offset, offset + size);
}

export interface TestResponse {
  status: number;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
  socket: Socket;
  /** Milliseconds from sending to the end of the body. */
  elapsedMs: number;
}

export interface TestRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string | string[]>;
  /** A buffer (sent with content-length) or chunks (sent chunked, i.e. streamed). */
  body?: Buffer | Iterable<Buffer>;
  agent?: Agent;
}

/** One HTTP request to 127.0.0.1:port, body collected. */
export function send(port: number, options: TestRequest = {}): Promise<TestResponse> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method: options.method ?? 'GET',
        path: options.path ?? '/',
        headers: options.headers ?? {},
        agent: options.agent ?? false,
      },
      (res) => {
        const parts: Buffer[] = [];
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('error', reject);
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(parts),
            socket: res.socket,
            elapsedMs: performance.now() - started,
          }),
        );
      },
    );
    req.on('error', reject);
    const body = options.body;
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else Readable.from(body).pipe(req);
  });
}

/** An agent that keeps exactly one connection open, so a test can prove requests shared it. */
export function oneConnectionAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 1 });
}

/** Whether a TCP connection to 127.0.0.1:port is refused. */
export function refused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

export interface TestTcpServer {
  port: number;
  /** Sockets accepted so far. */
  sockets: Socket[];
  close(): Promise<void>;
}

/** A TCP server on 127.0.0.1:0 that hands each connection to `handler`. */
export async function startTcpServer(handler: (socket: Socket) => void, options: { allowHalfOpen?: boolean } = {}): Promise<TestTcpServer> {
  const sockets: Socket[] = [];
  const server = createNetServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (socket) => {
    sockets.push(socket);
    socket.on('error', () => undefined);
    handler(socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    sockets,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** An upstream that echoes every byte back and ends when the client ends. */
export function startEchoServer(): Promise<TestTcpServer> {
  return startTcpServer((socket) => socket.pipe(socket));
}

export interface TestTcpClient {
  socket: Socket;
  /** Every chunk received, with performance.now() at its arrival. */
  chunks: Array<{ data: Buffer; at: number }>;
  received(): Buffer;
  /** Resolves when the socket closes: how (end = FIN seen first, error = its code) and when. */
  closed: Promise<{ how: 'end' | 'error'; code?: string; at: number }>;
  /** Resolves once at least `bytes` bytes have arrived. */
  receivedAtLeast(bytes: number): Promise<void>;
}

export async function openTcpClient(port: number): Promise<TestTcpClient> {
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const chunks: Array<{ data: Buffer; at: number }> = [];
  let sawEnd = false;
  let errorCode: string | undefined;
  const waiters: Array<() => void> = [];
  const total = (): number => chunks.reduce((sum, chunk) => sum + chunk.data.length, 0);
  socket.on('data', (data: Buffer) => {
    chunks.push({ data, at: performance.now() });
    for (const wake of waiters.splice(0)) wake();
  });
  socket.on('end', () => {
    sawEnd = true;
  });
  socket.on('error', (error: NodeJS.ErrnoException) => {
    errorCode = error.code ?? error.message;
  });
  const closed = new Promise<{ how: 'end' | 'error'; code?: string; at: number }>((resolve) => {
    socket.once('close', () => {
      const at = performance.now();
      for (const wake of waiters.splice(0)) wake();
      resolve(errorCode !== undefined && !sawEnd ? { how: 'error', code: errorCode, at } : { how: 'end', at });
    });
  });
  return {
    socket,
    chunks,
    received: () => Buffer.concat(chunks.map((chunk) => chunk.data)),
    closed,
    async receivedAtLeast(bytes) {
      while (total() < bytes && !socket.destroyed) await new Promise<void>((resolve) => waiters.push(resolve));
      if (total() < bytes) throw new Error(`connection closed after ${total()} of ${bytes} bytes`);
    },
  };
}

/** Resolves with 'timeout' if `promise` has not settled within `ms`. */
export function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  return Promise.race([promise, new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), ms).unref())]);
}

export interface UpstreamFixture {
  /** The file's upstream (started in beforeAll). */
  readonly upstream: TestUpstream;
  /** Close this proxy after the current test. */
  track<T extends { close(): Promise<void> }>(proxy: T): T;
}

/**
 * One real upstream for a test file and the proxies its tests open: registers
 * the hooks that start the upstream, close each test's proxies and forget what
 * the upstream saw after every test, and stop the upstream at the end.
 */
export function upstreamFixture(): UpstreamFixture {
  let upstream: TestUpstream | undefined;
  const opened: Array<{ close(): Promise<void> }> = [];
  beforeAll(async () => {
    upstream = await startUpstream();
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((proxy) => proxy.close()));
    if (upstream) upstream.seen.length = 0;
  });
  afterAll(async () => {
    await upstream?.close();
  });
  return {
    get upstream() {
      if (!upstream) throw new Error('the upstream starts in beforeAll');
      return upstream;
    },
    track(proxy) {
      opened.push(proxy);
      return proxy;
    },
  };
}

/** An admin API answer as a test reads it: status, body (parsed when JSON), headers. */
export interface AdminAnswer {
  status: number;
  body: unknown;
  headers: Headers;
}

/** One request to an admin API: a JSON body unless a string is given, headers as given. */
export async function callAdmin(baseUrl: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<AdminAnswer> {
  const response = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await response.text();
  const isJson = (response.headers.get('content-type') ?? '').includes('json');
  return { status: response.status, body: isJson && text !== '' ? JSON.parse(text) : text, headers: response.headers };
}
