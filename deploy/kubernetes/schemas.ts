// Validates manifests against the schemas of the APIs they belong to:
// - Kubernetes' own kinds and the Prometheus Operator's with kubernetes-models
//   and @kubernetes-models/prometheus-operator, which ship validators
//   compiled from the APIs' OpenAPI schemas (types, required fields, enums,
//   patterns, int-or-string). They do not reject unknown fields; the
//   generator builds every object through the packages' typed constructors,
//   so tsc rejects a misspelt field there.
// - Custom resources with their CustomResourceDefinitions (the k6 operator's
//   TestRun vendored in schemas/k6-operator/, Chaos Mesh's in
//   ../shared/schemas/chaos-mesh/) through chaos/chaos-mesh/crd-validation.ts,
//   which also rejects unknown fields as server-side field validation does.

import { fileURLToPath } from 'node:url';
import * as appsV1 from 'kubernetes-models/apps/v1';
import * as policyV1 from 'kubernetes-models/policy/v1';
import * as rbacV1 from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import * as coreV1 from 'kubernetes-models/v1';
import * as monitoringV1 from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as monitoringV1alpha1 from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1alpha1';
import { type CrdValidator, loadChaosMeshCrds } from '../../chaos/chaos-mesh/crd-validation.ts';

export const K6_OPERATOR_SCHEMA_DIR = fileURLToPath(new URL('./schemas/k6-operator/', import.meta.url));

interface ModelClass {
  apiVersion: string;
  kind: string;
  new (data: unknown): { validate(): void };
}

const MODELS = new Map<string, ModelClass>();
for (const module of [coreV1, appsV1, policyV1, rbacV1, monitoringV1, monitoringV1alpha1] as Array<Record<string, unknown>>) {
  for (const value of Object.values(module)) {
    const model = value as Partial<ModelClass>;
    if (typeof value === 'function' && typeof model.apiVersion === 'string' && typeof model.kind === 'string') MODELS.set(`${model.apiVersion}/${model.kind}`, model as ModelClass);
  }
}

/** Whether kubernetes-models or the Prometheus Operator's models know this kind. */
export function hasModel(apiVersion: string, kind: string): boolean {
  return MODELS.has(`${apiVersion}/${kind}`);
}

/** Every problem of one built-in or Prometheus Operator manifest (`spec/ports/0/port must be integer`); empty when valid. */
export function validateModel(manifest: { apiVersion?: unknown; kind?: unknown }): string[] {
  const model = MODELS.get(`${String(manifest.apiVersion)}/${String(manifest.kind)}`);
  if (!model) return [`${String(manifest.apiVersion)} ${String(manifest.kind)}: no schema known for this kind`];
  try {
    new model(manifest).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: Array<{ instancePath: string; message?: string }> }).errors;
    if (!errors) return [(error as Error).message];
    return errors.map((item) => `${item.instancePath.split('/').filter(Boolean).join('.') || '(root)'}: ${item.message ?? 'invalid'}`);
  }
}

/** The TestRun CRD's validator. */
export function loadK6OperatorCrds(): Promise<CrdValidator> {
  return loadChaosMeshCrds(K6_OPERATOR_SCHEMA_DIR);
}
