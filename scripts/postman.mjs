#!/usr/bin/env node
// Converts an OpenAPI 3.x document into a Postman v2.1 collection, with no dependencies.
// Usage: node scripts/postman.mjs docs/openapi.json > docs/slipway.postman_collection.json
//
// - one folder per tag (the operation's first tag), one request per operation, in document order;
// - URLs are {{base_url}} + path, path parameters as :name variables, optional query parameters listed but disabled;
// - JSON bodies are examples generated from the request schema;
// - collection-level bearer auth with {{bearer_token}}; operations that need no credentials use noauth;
// - deterministic: no random ids, no timestamps, so the output only changes when the document does.
import { readFileSync } from 'node:fs';

const SCHEMA_URL = 'https://schema.getpostman.com/json/collection/v2.1.0/collection.json';
const DEFAULT_BASE_URL = 'http://127.0.0.1:8080';
const METHODS = ['get', 'put', 'post', 'patch', 'delete', 'options', 'head', 'trace'];

const input = process.argv[2];
if (!input) {
  console.error('usage: node scripts/postman.mjs <openapi.json>');
  process.exit(2);
}
const doc = JSON.parse(readFileSync(input, 'utf8'));

/** Follows a local $ref ("#/components/schemas/X") through the document; returns [target, name]. */
function deref(node) {
  let name = null;
  const seen = new Set();
  while (node && typeof node === 'object' && typeof node.$ref === 'string') {
    if (seen.has(node.$ref)) throw new Error(`circular $ref ${node.$ref}`);
    seen.add(node.$ref);
    if (!node.$ref.startsWith('#/')) throw new Error(`only local $refs are supported: ${node.$ref}`);
    name = node.$ref;
    node = node.$ref
      .slice(2)
      .split('/')
      .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
      .reduce((at, key) => (at == null ? undefined : at[key]), doc);
    if (node === undefined) throw new Error(`unresolved $ref ${name}`);
  }
  return [node, name];
}

function mainType(schema) {
  const types = Array.isArray(schema.type) ? schema.type : schema.type ? [schema.type] : [];
  const concrete = types.filter((t) => t !== 'null');
  if (concrete.length > 0) return concrete[0];
  if (schema.properties) return 'object';
  if (schema.items) return 'array';
  return types.length > 0 ? 'null' : undefined;
}

function stringExample(schema, propertyName) {
  switch (schema.format) {
    case 'date-time': return '2026-01-01T00:00:00.000Z';
    case 'date': return '2026-01-01';
    case 'email': return 'user@example.com';
    case 'uri':
    case 'url': return 'https://example.com';
    case 'uuid': return '01890000-0000-7000-8000-000000000000';
    default: break;
  }
  const name = (propertyName ?? '').toLowerCase();
  if (name === 'email' || name.endsWith('_email')) return 'user@example.com';
  if (name.endsWith('password')) return 'correct horse battery staple';
  if (name.endsWith('_url') || name === 'url') return 'https://example.com/acme/app.git';
  return 'string';
}

/** A plausible value for a schema: its own example/default/enum first, else one built from its type. */
function example(schemaOrRef, propertyName, stack = []) {
  const [schema, ref] = deref(schemaOrRef);
  if (!schema || typeof schema !== 'object') return null;
  if (ref && stack.includes(ref)) return null; // recursive schema: stop here
  const next = ref ? [...stack, ref] : stack;

  if (Array.isArray(schema.examples) && schema.examples.length > 0) return schema.examples[0];
  if (schema.example !== undefined) return schema.example;
  if (schema.default !== undefined) return schema.default;
  if (schema.const !== undefined) return schema.const;
  if (Array.isArray(schema.enum)) {
    const value = schema.enum.find((v) => v !== null);
    if (value !== undefined) return value;
  }
  for (const key of ['oneOf', 'anyOf']) {
    if (Array.isArray(schema[key])) {
      const choice = schema[key].find((s) => mainType(deref(s)[0] ?? {}) !== 'null') ?? schema[key][0];
      return example(choice, propertyName, next);
    }
  }
  if (Array.isArray(schema.allOf)) {
    return Object.assign({}, ...schema.allOf.map((s) => example(s, propertyName, next)).filter((v) => v && typeof v === 'object'));
  }
  switch (mainType(schema)) {
    case 'object': {
      const result = {};
      for (const [name, property] of Object.entries(schema.properties ?? {})) result[name] = example(property, name, next);
      return result;
    }
    case 'array': return schema.items ? [example(schema.items, propertyName, next)] : [];
    case 'string': return stringExample(schema, propertyName);
    case 'integer':
    case 'number': return typeof schema.minimum === 'number' ? schema.minimum : 0;
    case 'boolean': return true;
    default: return null;
  }
}

function parametersOf(pathItem, operation) {
  const byKey = new Map();
  for (const p of [...(pathItem.parameters ?? []), ...(operation.parameters ?? [])]) {
    const [param] = deref(p);
    byKey.set(`${param.in}:${param.name}`, param);
  }
  return [...byKey.values()];
}

function isAnonymous(operation) {
  const security = operation.security ?? doc.security;
  return !security || security.length === 0 || security.some((requirement) => Object.keys(requirement).length === 0);
}

function requestFor(path, method, pathItem, operation) {
  const params = parametersOf(pathItem, operation);
  const segments = path.split('/').filter(Boolean).map((s) => s.replace(/^\{(.+)\}$/, ':$1'));
  const query = params
    .filter((p) => p.in === 'query')
    .map((p) => ({
      key: p.name,
      value: p.required ? String(example(p.schema ?? {}, p.name) ?? '') : '',
      ...(p.required ? {} : { disabled: true }),
      ...(p.description ? { description: p.description } : {}),
    }));
  const enabledQuery = query.filter((q) => !q.disabled);
  const url = {
    raw: `{{base_url}}/${segments.join('/')}${enabledQuery.length ? '?' + enabledQuery.map((q) => `${q.key}=${q.value}`).join('&') : ''}`,
    host: ['{{base_url}}'],
    path: segments,
  };
  if (query.length) url.query = query;
  const variables = params
    .filter((p) => p.in === 'path')
    .map((p) => ({ key: p.name, value: '', ...(p.description ? { description: p.description } : {}) }));
  if (variables.length) url.variable = variables;

  const header = params
    .filter((p) => p.in === 'header')
    .map((p) => ({
      key: p.name,
      value: '',
      ...(p.required ? {} : { disabled: true }),
      ...(p.description ? { description: p.description } : {}),
    }));

  const request = { method: method.toUpperCase(), header, url };
  const [body] = deref(operation.requestBody ?? null);
  const json = body?.content?.['application/json'];
  if (json) {
    header.unshift({ key: 'Content-Type', value: 'application/json' });
    request.body = {
      mode: 'raw',
      raw: JSON.stringify(example(json.schema ?? {}), null, 2),
      options: { raw: { language: 'json' } },
    };
  } else if (body?.content?.['multipart/form-data']) {
    // Uploads: a form with a file part; Postman picks the file.
    const properties = body.content['multipart/form-data'].schema?.properties ?? {};
    request.body = {
      mode: 'formdata',
      formdata: Object.entries(properties).map(([key, schema]) =>
        schema.format === 'binary' ? { key, type: 'file', src: '' } : { key, type: 'text', value: '' }),
    };
  }
  if (operation.description) request.description = operation.description;
  if (isAnonymous(operation)) request.auth = { type: 'noauth' };
  return request;
}

const folders = new Map();
for (const tag of doc.tags ?? []) folders.set(tag.name, { name: tag.name, ...(tag.description ? { description: tag.description } : {}), item: [] });
for (const [path, pathItem] of Object.entries(doc.paths ?? {})) {
  for (const method of METHODS) {
    const operation = pathItem[method];
    if (!operation) continue;
    const tag = operation.tags?.[0] ?? 'Other';
    if (!folders.has(tag)) folders.set(tag, { name: tag, item: [] });
    folders.get(tag).item.push({
      name: operation.summary ?? operation.operationId ?? `${method.toUpperCase()} ${path}`,
      request: requestFor(path, method, pathItem, operation),
      response: [],
    });
  }
}

const collection = {
  info: {
    name: doc.info?.title ?? 'API',
    ...(doc.info?.description ? { description: doc.info.description } : {}),
    ...(doc.info?.version ? { version: doc.info.version } : {}),
    schema: SCHEMA_URL,
  },
  item: [...folders.values()].filter((folder) => folder.item.length > 0),
  auth: { type: 'bearer', bearer: [{ key: 'token', value: '{{bearer_token}}', type: 'string' }] },
  variable: [
    { key: 'base_url', value: doc.servers?.[0]?.url?.replace(/\/+$/, '') || DEFAULT_BASE_URL, type: 'string' },
    { key: 'bearer_token', value: '', type: 'string' },
  ],
};
process.stdout.write(JSON.stringify(collection, null, 2) + '\n');
