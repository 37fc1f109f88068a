/**
 * values.yaml and the CI values files against values.schema.json (ajv), and the schema and
 * `## @param` docs against values.yaml: every value documented and typed, unknown keys refused.
 */
import { basename } from 'node:path';
import { CI_VALUES, get, loadSchema, loadValues, mergeValues, paramDocs, schemaAt, validator, valuePaths } from './support/values';

describe('values.schema.json', () => {
  const validate = validator();
  const defaults = loadValues();

  it('accepts values.yaml', () => {
    expect(validate(defaults) ? [] : validate.errors).toEqual([]);
  });

  it.each(CI_VALUES.map((file) => [basename(file), file]))('accepts values.yaml merged with ci/%s', (_name, file) => {
    const merged = mergeValues(defaults, loadValues(file));
    expect(validate(merged) ? [] : validate.errors).toEqual([]);
  });

  it('accepts a parent chart\'s global values (keys of other subcharts included)', () => {
    const global = { imageRegistry: 'registry.example.com:5000/mirror', imagePullSecrets: ['regcred', { name: 'other' }], storageClass: 'fast', postgresql: { auth: {} } };
    expect(validate(mergeValues(defaults, { global })) ? [] : validate.errors).toEqual([]);
  });

  it('finds CI values files to check', () => {
    expect(CI_VALUES.length).toBeGreaterThanOrEqual(3);
  });

  it.each([
    ['an unknown top-level key', { gatway: {} }],
    ['a misspelt environment variable', { gateway: { config: { WS_MAX_CONECTIONS: '10' } } }],
    ['a number where the env var must be a string (Helm would print 1e+06)', { gateway: { config: { WS_MAX_BUFFERED_BYTES: 1048576 } } }],
    ['a non-numeric duration', { gateway: { config: { DRAIN_DELAY_MS: '5s' } } }],
    ['an unknown log level', { crawler: { config: { LOG_LEVEL: 'verbose' } } }],
    ['an unknown crawler source', { crawler: { config: { CRAWLER_SOURCE: 'kafka' } } }],
    ['an unknown migration strategy', { migrations: { strategy: 'manual' } }],
    ['a bad pull policy', { image: { pullPolicy: 'Sometimes' } }],
    ['a bad database URL scheme', { externalDatabase: { url: 'mysql://x@h/db' } }],
    ['an env entry without a name', { gateway: { extraEnv: [{ value: 'x' }] } }],
    ['a non-numeric migration timeout', { migrations: { config: { MIGRATE_LOCK_TIMEOUT_MS: '5s' } } }],
    ['a pull secret without a name', { global: { imagePullSecrets: [{ secret: 'x' }] } }],
  ])('rejects %s', (_what, override) => {
    expect(validate(mergeValues(defaults, override as Record<string, unknown>))).toBe(false);
  });
});

describe('## @param docs and schema cover every value', () => {
  const values = loadValues();
  const docs = paramDocs();
  const schema = loadSchema();

  it('documents every value with ## @param (leaves, or maps meant to be free-form)', () => {
    const undocumented = valuePaths(values).filter((path) => {
      const value = get(values, path);
      const isMap = typeof value === 'object' && value !== null && !Array.isArray(value);
      return !docs.has(path) && !(isMap && Object.keys(value).length > 0);
    });
    expect(undocumented).toEqual([]);
  });

  it('has no ## @param for a value that does not exist', () => {
    expect([...docs.keys()].filter((path) => get(values, path) === undefined)).toEqual([]);
  });

  it('types and describes every documented value in the schema, with the same default', () => {
    const problems: string[] = [];
    for (const [path, description] of docs) {
      const node = schemaAt(schema, path);
      if (!node) problems.push(`${path}: not in values.schema.json`);
      else {
        if (!node.type) problems.push(`${path}: no type`);
        if (node.description !== description) problems.push(`${path}: description differs from its @param`);
        if (JSON.stringify(node.default) !== JSON.stringify(get(values, path))) problems.push(`${path}: default differs from values.yaml`);
      }
    }
    expect(problems).toEqual([]);
  });

  it('closes every structured object (additionalProperties: false) but global, which a parent chart shares', () => {
    const open: string[] = [];
    const walk = (node: Record<string, unknown>, path: string) => {
      const properties = node.properties as Record<string, Record<string, unknown>> | undefined;
      if (!properties) return;
      if (node.additionalProperties !== false && path !== 'global') open.push(path || '<root>');
      for (const [key, child] of Object.entries(properties)) walk(child, path ? `${path}.${key}` : key);
    };
    walk(schema, '');
    expect(open).toEqual([]);
  });
});
