// The metric and label names of conventions.ts are the OpenTelemetry semantic
// conventions of the version package.json pins, in Prometheus spelling: each
// is derived here from the constants of @opentelemetry/semantic-conventions,
// so bumping the pin to a version that renames one fails this test.

import {
  ATTR_DB_COLLECTION_NAME,
  ATTR_DB_NAMESPACE,
  ATTR_DB_OPERATION_NAME,
  ATTR_DB_QUERY_SUMMARY,
  ATTR_DB_QUERY_TEXT,
  ATTR_DB_SYSTEM_NAME,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_RPC_METHOD,
  ATTR_RPC_STATUS_CODE,
  ATTR_RPC_SYSTEM_NAME,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_SCHEME,
  METRIC_DB_CLIENT_OPERATION_DURATION,
  METRIC_HTTP_CLIENT_REQUEST_DURATION,
  METRIC_HTTP_SERVER_REQUEST_DURATION,
  METRIC_RPC_CLIENT_CALL_DURATION,
  METRIC_RPC_SERVER_CALL_DURATION,
  RPC_SYSTEM_NAME_VALUE_GRPC,
} from '@opentelemetry/semantic-conventions';
import { ATTR_RPC_GRPC_STATUS_CODE, ATTR_RPC_SERVICE, ATTR_RPC_SYSTEM, DB_SYSTEM_NAME_VALUE_SQLITE } from '@opentelemetry/semantic-conventions/incubating';
import { describe, expect, it } from 'vitest';
import { DB_LABEL, DB_METRIC, DB_SPAN_ATTR, DB_SYSTEM_NAME, LABEL, METRIC, RPC_LABEL, RPC_METRIC, RPC_SYSTEM_NAME } from './conventions.ts';

/** OpenTelemetry name to Prometheus name (dots to underscores; a duration in seconds gets its unit). */
const prom = (name: string, unit?: 's') => `${name.replaceAll('.', '_')}${unit === 's' ? '_seconds' : ''}`;

describe('conventions.ts follows the pinned semantic conventions', () => {
  it('names the duration histograms as the conventions do', () => {
    expect(METRIC.httpServerDuration).toBe(prom(METRIC_HTTP_SERVER_REQUEST_DURATION, 's'));
    expect(METRIC.httpClientDuration).toBe(prom(METRIC_HTTP_CLIENT_REQUEST_DURATION, 's'));
    expect(RPC_METRIC.clientCallDuration).toBe(prom(METRIC_RPC_CLIENT_CALL_DURATION, 's'));
    expect(RPC_METRIC.serverCallDuration).toBe(prom(METRIC_RPC_SERVER_CALL_DURATION, 's'));
  });

  it('labels them with the current attributes', () => {
    expect(LABEL).toMatchObject({
      method: prom(ATTR_HTTP_REQUEST_METHOD),
      route: prom(ATTR_HTTP_ROUTE),
      status: prom(ATTR_HTTP_RESPONSE_STATUS_CODE),
      urlScheme: prom(ATTR_URL_SCHEME),
      errorType: prom(ATTR_ERROR_TYPE),
      serverAddress: prom(ATTR_SERVER_ADDRESS),
      serverPort: prom(ATTR_SERVER_PORT),
    });
    expect(RPC_LABEL).toMatchObject({ systemName: prom(ATTR_RPC_SYSTEM_NAME), method: prom(ATTR_RPC_METHOD), statusCode: prom(ATTR_RPC_STATUS_CODE) });
    expect(RPC_SYSTEM_NAME.grpc).toBe(RPC_SYSTEM_NAME_VALUE_GRPC);
  });

  it('names the database client telemetry as the conventions do', () => {
    expect(DB_METRIC.clientOperationDuration).toBe(prom(METRIC_DB_CLIENT_OPERATION_DURATION, 's'));
    expect(DB_LABEL).toEqual({ systemName: prom(ATTR_DB_SYSTEM_NAME), operationName: prom(ATTR_DB_OPERATION_NAME), collectionName: prom(ATTR_DB_COLLECTION_NAME) });
    expect(DB_SPAN_ATTR).toEqual({
      systemName: ATTR_DB_SYSTEM_NAME,
      namespace: ATTR_DB_NAMESPACE,
      operationName: ATTR_DB_OPERATION_NAME,
      collectionName: ATTR_DB_COLLECTION_NAME,
      querySummary: ATTR_DB_QUERY_SUMMARY,
      queryText: ATTR_DB_QUERY_TEXT,
    });
    expect(DB_SYSTEM_NAME.sqlite).toBe(DB_SYSTEM_NAME_VALUE_SQLITE);
  });

  it('uses none of the deprecated RPC attributes', () => {
    const names: string[] = [...Object.values(LABEL), ...Object.values(RPC_LABEL)];
    for (const deprecated of [ATTR_RPC_SYSTEM, ATTR_RPC_SERVICE, ATTR_RPC_GRPC_STATUS_CODE, 'rpc.response.status_code']) expect(names).not.toContain(prom(deprecated));
  });
});
