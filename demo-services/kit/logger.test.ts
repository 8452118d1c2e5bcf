import { setImmediate as tick } from 'node:timers/promises';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { otlpLogStream } from './logger.ts';

describe('otlpLogStream', () => {
  const memory = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ processors: [new SimpleLogRecordProcessor({ exporter: memory })] });

  afterEach(() => memory.reset());

  it('turns pino lines into OTLP records with severity, body, attributes, time and the span they were written in', async () => {
    const stream = otlpLogStream(provider.getLogger('test'));
    const log = pino({ base: { service: 'payment', instance: 'payment-1' }, timestamp: pino.stdTimeFunctions.isoTime }, stream);
    log.info({ trace_id: '0af7651916cd43dd8448eb211c80319c', span_id: 'b7ad6b7169203331', trace_flags: '01', order: 'o-1', amount: 12.5 }, 'charged');
    log.error({ err: new Error('bank down') }, 'charge failed');
    await tick();
    const [charged, failed] = memory.getFinishedLogRecords();
    expect(charged?.body).toBe('charged');
    expect(charged?.severityNumber).toBe(9);
    expect(charged?.severityText).toBe('INFO');
    expect(charged?.attributes).toEqual({ order: 'o-1', amount: 12.5 });
    expect(charged?.spanContext).toMatchObject({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 1 });
    expect(Math.abs(charged!.hrTime[0] * 1000 - Date.now())).toBeLessThan(60_000);
    expect(failed?.severityNumber).toBe(17);
    expect(failed?.spanContext).toBeUndefined();
    expect(failed?.attributes.err).toMatchObject({ type: 'Error', message: 'bank down' });
  });

  it('ignores a line that is not JSON instead of throwing', async () => {
    const stream = otlpLogStream(provider.getLogger('test'));
    await new Promise<void>((resolve, reject) => stream.write('not json\n', (error) => (error ? reject(error) : resolve())));
    expect(memory.getFinishedLogRecords()).toEqual([]);
  });
});
