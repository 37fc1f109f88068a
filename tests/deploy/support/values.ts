/** values.yaml, its `## @param` docs, values.schema.json, and Helm's merge of values files. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { CHART } from './manifests';

export type Values = Record<string, unknown>;

export const VALUES_FILE = join(CHART, 'values.yaml');
export const SCHEMA_FILE = join(CHART, 'values.schema.json');
export const CI_VALUES = readdirSync(join(CHART, 'ci'))
  .filter((f) => f.endsWith('-values.yaml'))
  .map((f) => join(CHART, 'ci', f));

export function loadValues(path = VALUES_FILE): Values {
  return (parse(readFileSync(path, 'utf8')) ?? {}) as Values;
}

export function loadSchema(): Record<string, unknown> {
  return JSON.parse(readFileSync(SCHEMA_FILE, 'utf8'));
}

/** The `## @param <path> <description>` lines of values.yaml, by path. */
export function paramDocs(): Map<string, string> {
  const docs = new Map<string, string>();
  for (const match of readFileSync(VALUES_FILE, 'utf8').matchAll(/^\s*## @param (\S+)\s+(.*)$/gm)) {
    docs.set(match[1]!, match[2]!.trim());
  }
  return docs;
}

const isObject = (v: unknown): v is Values => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Helm's coalescing of values files: maps merge key by key, anything else is replaced. */
export function mergeValues(base: Values, override: Values): Values {
  const out: Values = { ...base };
  for (const [key, value] of Object.entries(override)) {
    out[key] = isObject(value) && isObject(base[key]) ? mergeValues(base[key] as Values, value) : value;
  }
  return out;
}

export function validator() {
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false });
  addFormats(ajv);
  return ajv.compile(loadSchema());
}

/** Every path in `values` that a `## @param` documents, or that is an object holding them. */
export function valuePaths(values: Values, prefix = ''): string[] {
  const paths: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    const path = prefix + key;
    paths.push(path);
    if (isObject(value) && !paramDocs().has(path)) paths.push(...valuePaths(value, `${path}.`));
  }
  return paths;
}

export function get(values: Values, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), values);
}

/** The schema node for a values path (following `properties` only). */
export function schemaAt(schema: Record<string, unknown>, path: string): Record<string, unknown> | undefined {
  let node: Record<string, unknown> | undefined = schema;
  for (const key of path.split('.')) {
    const properties = node?.properties as Record<string, Record<string, unknown>> | undefined;
    node = properties?.[key];
    if (!node) return undefined;
  }
  return node;
}
