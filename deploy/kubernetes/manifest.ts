// What the Kubernetes generator's parts share: the plain manifest type, the
// namespace and labels the Chaos Mesh export selects on, the images pinned in
// docker-compose.yml (one place pins every image, for compose and the
// cluster), and YAML rendering with a "generated" header.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { DEFAULT_HTTP_PORT, DEFAULT_NAMESPACE, SERVICE_LABEL } from '../../chaos/chaos-mesh/export.ts';

export const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const KUBERNETES_DIR = fileURLToPath(new URL('./', import.meta.url));

/** The namespace, the name label and the HTTP port are the Chaos Mesh export's, so its selectors find these pods. */
export const NAMESPACE = DEFAULT_NAMESPACE;
export const NAME_LABEL = SERVICE_LABEL;
export const HTTP_PORT = DEFAULT_HTTP_PORT;
/** The gRPC port of a service that serves gRPC (payment), as in docker-compose.yml. */
export const GRPC_PORT = 9090;
export const PART_OF = { 'app.kubernetes.io/part-of': 'faultline' } as const;

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [field: string]: unknown;
}

/** A model (kubernetes-models) or object literal as plain JSON data, in its key order. */
export function plain(model: object): Manifest {
  return JSON.parse(JSON.stringify(model)) as Manifest;
}

/** Labels of one component: its name (what selectors and Chaos Mesh use), its role, and the project. */
export function componentLabels(name: string, component: string): Record<string, string> {
  return { [NAME_LABEL]: name, 'app.kubernetes.io/component': component, ...PART_OF };
}

/** One YAML stream of manifests, under a comment header. */
export function manifestsYaml(header: readonly string[], manifests: readonly Manifest[]): string {
  const comments = header.map((line) => `# ${line}`.trimEnd()).join('\n');
  const body = manifests.map((manifest) => stringify(manifest, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n');
  return `${comments}\n${body}`;
}

interface ComposeFile {
  services: Record<string, { image?: string }>;
}

/** The image docker-compose.yml pins for one of its services (`grafana` -> `grafana/grafana:11.4.0`). */
export function composeImage(service: string, root = PROJECT_ROOT): string {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;
  const image = compose.services[service]?.image;
  if (image === undefined) throw new Error(`docker-compose.yml: no image for service '${service}'`);
  return image;
}

/** The tag of an image reference (`prom/prometheus:v3.1.0` -> `v3.1.0`). */
export function imageTag(image: string): string {
  return image.slice(image.lastIndexOf(':') + 1);
}
