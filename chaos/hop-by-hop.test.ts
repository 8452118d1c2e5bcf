import { describe, expect, it } from 'vitest';
import { requestHeadersToForward, responseHeadersToForward } from './hop-by-hop.ts';

describe('hop-by-hop headers', () => {
  it('keeps end-to-end request headers in order, case and repetition, and drops the connection-level ones', () => {
    const raw = [
      'Host', 'bank:80',
      'Connection', 'keep-alive, X-Trace-Hop',
      'X-Trace-Hop', 'drop me',
      'Keep-Alive', 'timeout=5',
      'Transfer-Encoding', 'chunked',
      'TE', 'trailers',
      'Expect', '100-continue',
      'traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'Accept', 'a/b',
      'Accept', 'c/d',
    ];
    expect(requestHeadersToForward(raw, 'keep-alive, X-Trace-Hop')).toEqual([
      'Host', 'bank:80',
      'traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'Accept', 'a/b',
      'Accept', 'c/d',
    ]);
  });

  it('drops hop-by-hop response headers and keeps repeated ones', () => {
    expect(
      responseHeadersToForward({
        connection: 'close, x-internal',
        'x-internal': '1',
        'transfer-encoding': 'chunked',
        'set-cookie': ['a=1', 'b=2'],
        'content-type': 'text/plain',
      }),
    ).toEqual({ 'set-cookie': ['a=1', 'b=2'], 'content-type': 'text/plain' });
  });
});
