// Validates Chaos Mesh manifests against the CustomResourceDefinitions of
// Chaos Mesh itself (their openAPIV3Schema), kept outside the repository in
// ../shared/schemas/chaos-mesh/. ajv runs with strict mode off and the
// x-kubernetes-* keywords registered as annotations. One thing is added on
// top of the schemas: objects that list their properties reject any other
// (unless they say x-kubernetes-preserve-unknown-fields), which is what
// `kubectl apply` with server-side field validation does; without it a
// misspelt field (`labelSelector`) would pass silently. OpenAPI 3.0's boolean
// exclusiveMinimum/exclusiveMaximum become their JSON Schema form for ajv.

import { access, readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { PROJECT_ROOT } from './scenario-file.ts';

/** Where the CRDs live, relative to the repository: ../shared/schemas/chaos-mesh/. */
export const CHAOS_MESH_SCHEMA_DIR = resolve(PROJECT_ROOT, '..', 'shared', 'schemas', 'chaos-mesh');

const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

export interface CrdValidator {
  /** The kinds the CRDs define (`NetworkChaos`, `Workflow`, ...). */
  readonly kinds: string[];
  /** Every problem of one manifest (`spec.action: must be equal to one of the allowed values`); empty when valid. */
  validate(manifest: unknown): string[];
}

interface Crd {
  apiVersion: string;
  schema: Record<string, unknown>;
  validate?: ValidateFunction;
}

type JsonSchema = Record<string, unknown>;

/** Copy a schema, closing every object that lists its properties (see the module comment). */
function closeObjects(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closeObjects);
  if (typeof schema !== 'object' || schema === null) return schema;
  const copy: JsonSchema = {};
  for (const [key, value] of Object.entries(schema)) {
    copy[key] = key === 'properties' && typeof value === 'object' && value !== null
      ? Object.fromEntries(Object.entries(value).map(([name, inner]) => [name, closeObjects(inner)]))
      : closeObjects(value);
  }
  if (copy.properties !== undefined && copy.additionalProperties === undefined && copy['x-kubernetes-preserve-unknown-fields'] !== true) {
    copy.additionalProperties = false;
  }
  for (const [exclusive, bound] of [
    ['exclusiveMinimum', 'minimum'],
    ['exclusiveMaximum', 'maximum'],
  ] as const) {
    if (typeof copy[exclusive] !== 'boolean') continue;
    if (copy[exclusive] === true && typeof copy[bound] === 'number') {
      copy[exclusive] = copy[bound];
      delete copy[bound];
    } else {
      delete copy[exclusive];
    }
  }
  return copy;
}

function collectKeywords(schema: unknown, found: Set<string>): void {
  if (typeof schema !== 'object' || schema === null) return;
  for (const [key, value] of Object.entries(schema)) {
    if (key.startsWith('x-kubernetes-')) found.add(key);
    collectKeywords(value, found);
  }
}

/** Whether the schema folder exists (tests skip, with a message, where it does not). */
export async function chaosMeshSchemasAvailable(dir = CHAOS_MESH_SCHEMA_DIR): Promise<boolean> {
  return access(dir).then(
    () => true,
    () => false,
  );
}

/** Read every CRD in `dir`; schemas compile on first use of their kind (Workflow's is large). */
export async function loadChaosMeshCrds(dir = CHAOS_MESH_SCHEMA_DIR): Promise<CrdValidator> {
  const crds = new Map<string, Crd>();
  const keywords = new Set<string>();
  for (const file of (await readdir(dir)).filter((name) => name.endsWith('.yaml')).sort()) {
    const document = parseYaml(await readFile(join(dir, file), 'utf8')) as {
      kind?: string;
      spec?: { group: string; names: { kind: string }; versions: Array<{ name: string; schema: { openAPIV3Schema: JsonSchema } }> };
    };
    if (document.kind !== 'CustomResourceDefinition' || !document.spec) continue;
    const version = document.spec.versions[0];
    if (!version) continue;
    collectKeywords(version.schema.openAPIV3Schema, keywords);
    crds.set(document.spec.names.kind, {
      apiVersion: `${document.spec.group}/${version.name}`,
      schema: closeObjects(version.schema.openAPIV3Schema) as JsonSchema,
    });
  }
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false });
  for (const keyword of keywords) ajv.addKeyword({ keyword, schemaType: ['boolean', 'string', 'array', 'object'] });

  return {
    kinds: [...crds.keys()].sort(),
    validate(manifest) {
      const { apiVersion, kind, metadata } = (manifest ?? {}) as { apiVersion?: unknown; kind?: unknown; metadata?: { name?: unknown } };
      const crd = typeof kind === 'string' ? crds.get(kind) : undefined;
      if (!crd) return [`kind: ${String(kind)} is not one of ${[...crds.keys()].sort().join(', ')}`];
      const problems: string[] = [];
      if (apiVersion !== crd.apiVersion) problems.push(`apiVersion: must be ${crd.apiVersion}`);
      const name = metadata?.name;
      if (typeof name !== 'string' || name.length > 253 || !DNS_SUBDOMAIN.test(name)) {
        problems.push('metadata.name: must be a DNS subdomain (lowercase letters, digits, dashes and dots)');
      }
      crd.validate ??= ajv.compile(crd.schema);
      if (!crd.validate(manifest)) {
        for (const error of crd.validate.errors ?? []) {
          const path = error.instancePath.split('/').filter(Boolean).join('.') || '(root)';
          const extra = error.keyword === 'additionalProperties' ? ` (${String((error.params as { additionalProperty?: string }).additionalProperty)})` : '';
          const allowed = error.keyword === 'enum' ? ` (${(error.params as { allowedValues?: unknown[] }).allowedValues?.join(', ')})` : '';
          problems.push(`${path}: ${error.message ?? 'invalid'}${extra}${allowed}`);
        }
      }
      return problems;
    },
  };
}
