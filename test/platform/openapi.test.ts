import { getMetadataStorage } from 'class-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestApp, type TestApp } from '../support/test-app.js';

/**
 * The OpenAPI document at /docs/openapi.json is what clients are generated from: money must be an
 * exact decimal string (a generated client must not turn a price into a binary float), counts
 * integers, every route the service answers must be in it, and its examples must be valid
 * under its own schemas.
 */
type Schema = Record<string, any>;

const MONEY_PATTERN = '^\\d+(\\.\\d{1,4})?$';

/** Where @nestjs/swagger keeps an @ApiProperty's options (DECORATORS.API_MODEL_PROPERTIES), per property. */
const SWAGGER_PROPERTY = 'swagger/apiModelProperties';

/**
 * Every `@IsInt()` property of every class class-validator knows (all DTOs are loaded once the app
 * is built), as `[class, property, its @ApiProperty options]`. class-validator keeps its registry
 * private; reading it is what lets the check cover a DTO nobody listed.
 */
function integerValidatedProperties(): Array<[string, string, Schema | undefined]> {
  const storage = getMetadataStorage() as unknown as {
    validationMetadatas: Map<Function, Array<{ name?: string; propertyName: string }>>;
  };
  return [...storage.validationMetadatas.entries()].flatMap(([target, metadatas]) =>
    metadatas
      .filter((metadata) => metadata.name === 'isInt')
      .map((metadata): [string, string, Schema | undefined] => [
        target.name,
        metadata.propertyName,
        Reflect.getMetadata(SWAGGER_PROPERTY, target.prototype, metadata.propertyName),
      ]),
  );
}

/**
 * Names that are counts, seconds, milliseconds, GPUs or sequence numbers: integers wherever they appear.
 * (Not `index`: a pool summary's price index is a decimal string; a GPU's index is covered by @IsInt.)
 */
const INTEGER_NAME = /^(gpus|seq|count|attempts?|entries|rounds|port)$|(Gpus|Seconds|Count|Ms|Replicas)$/;

/** Problems of `value` against `schema` (the subset of OpenAPI the document uses); [] when valid. */
function check(value: unknown, schema: Schema, at: string, schemas: Record<string, Schema>): string[] {
  if (schema.$ref) return check(value, schemas[String(schema.$ref).split('/').pop()!]!, at, schemas);
  if (value === null) return schema.nullable ? [] : [`${at}: null but not nullable`];
  const problems: string[] = [];
  const type = schema.type as string | undefined;
  const is: Record<string, (v: unknown) => boolean> = {
    string: (v) => typeof v === 'string',
    integer: (v) => Number.isInteger(v),
    number: (v) => typeof v === 'number' && Number.isFinite(v),
    boolean: (v) => typeof v === 'boolean',
    array: (v) => Array.isArray(v),
    object: (v) => typeof v === 'object' && !Array.isArray(v),
  };
  if (type && is[type] && !is[type](value)) return [`${at}: ${JSON.stringify(value)} is not ${type}`];
  if (schema.enum && !schema.enum.includes(value))
    problems.push(`${at}: ${JSON.stringify(value)} not in ${schema.enum.join(', ')}`);
  if (schema.pattern && typeof value === 'string' && !new RegExp(schema.pattern).test(value))
    problems.push(`${at}: ${value} does not match ${schema.pattern}`);
  if (schema.format === 'date-time' && typeof value === 'string' && Number.isNaN(Date.parse(value)))
    problems.push(`${at}: ${value} is not a date-time`);
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) problems.push(`${at}: ${value} < ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) problems.push(`${at}: ${value} > ${schema.maximum}`);
  }
  if (Array.isArray(value) && schema.items)
    value.forEach((item, i) => problems.push(...check(item, schema.items, `${at}[${i}]`, schemas)));
  if (type === 'object' && value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, item] of Object.entries(value)) {
      const property =
        schema.properties?.[key] ??
        (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      if (property) problems.push(...check(item, property, `${at}.${key}`, schemas));
    }
  }
  return problems;
}

describe('the OpenAPI document', () => {
  let t: TestApp;
  let document: Schema;
  let schemas: Record<string, Schema>;

  beforeAll(async () => {
    t = await createTestApp();
    const response = await t.http().get('/docs/openapi.json');
    expect(response.status).toBe(200);
    document = response.body;
    schemas = document.components.schemas;
  });
  afterAll(async () => t?.close());

  it('types money as decimal strings with their pattern, wherever a bid or a node carries one', () => {
    for (const [schema, property] of [
      ['OfferDto', 'maxPrice'],
      ['OfferViewDto', 'maxPrice'],
      ['NodeInputDto', 'reservePrice'],
      ['PatchNodeDto', 'reservePrice'],
      ['NodeDto', 'reservePrice'],
    ] as const)
      expect(schemas[schema]?.properties?.[property], `${schema}.${property}`).toMatchObject({
        type: 'string',
        pattern: MONEY_PATTERN,
      });
    // No price anywhere in the document is a number or an untyped object.
    const prices = Object.entries(schemas).flatMap(([name, schema]) =>
      Object.entries(schema.properties ?? {})
        .filter(([property, value]) => /price$/i.test(property) && !(value as Schema).$ref && !(value as Schema).items)
        .map(([property, value]) => [`${name}.${property}`, (value as Schema).type]),
    );
    expect(prices.length).toBeGreaterThan(10);
    expect(prices.filter(([, type]) => type !== 'string')).toEqual([]);
  });

  it("types counts as integers: a bid's GPUs, run times and memory, and the GPU indices an agent reports", () => {
    for (const name of [
      'BidDto',
      'CreateBidDto',
      'BidLeaseDto',
      'OfferDto',
      'OfferViewDto',
      'WindowDto',
      'WorkloadDto',
    ])
      for (const [property, value] of Object.entries(schemas[name]?.properties ?? {}))
        expect((value as Schema).type, `${name}.${property}`).not.toBe('number');
    expect(schemas.CreateBidDto!.properties.gpus.type).toBe('integer');
    expect(schemas.CreateBidDto!.properties.runtimeSeconds.type).toBe('integer');
    expect(schemas.BidDto!.properties.remainingSeconds.type).toBe('integer');
    const gpuIndices = Object.values(schemas)
      .map((s) => s.properties?.gpuIndices)
      .filter(Boolean);
    expect(gpuIndices.length).toBeGreaterThan(0);
    for (const property of gpuIndices) expect(property).toMatchObject({ type: 'array', items: { type: 'integer' } });
  });

  it('documents every property validated with @IsInt as an integer, in every DTO', () => {
    const properties = integerValidatedProperties();
    // Bodies and queries of bids, nodes, GPU models, agents, leases, ledger, reports, keys, webhooks, services.
    expect(properties.length).toBeGreaterThan(25);
    const wrong = properties
      .filter(([, , options]) => options?.type !== 'integer')
      .map(([name, property, options]) => `${name}.${property}: ${String(options?.type?.name ?? options?.type)}`);
    expect(wrong).toEqual([]);
    // The document carries it through, in schemas and in query parameters alike.
    for (const [name, property] of properties)
      if (schemas[name]?.properties?.[property])
        expect(schemas[name]!.properties[property], `${name}.${property}`).toMatchObject(
          schemas[name]!.properties[property].items ? { items: { type: 'integer' } } : { type: 'integer' },
        );
    const queryNumbers = Object.entries(document.paths as Record<string, Schema>).flatMap(([path, operations]) =>
      Object.entries(operations).flatMap(([method, operation]) =>
        ((operation as Schema).parameters ?? [])
          .filter((parameter: Schema) => parameter.schema?.type === 'number')
          .map((parameter: Schema) => `${method} ${path} ?${parameter.name}`),
      ),
    );
    expect(queryNumbers).toEqual([]);
  });

  it('types every count, duration in seconds or ms, GPU number and index in a response as an integer', () => {
    const counts = Object.entries(schemas).flatMap(([name, schema]) =>
      Object.entries(schema.properties ?? {})
        // Lists of objects (a page's `rounds`, a node's `unavailableGpus`) are not counts.
        .filter(
          ([property, value]) =>
            INTEGER_NAME.test(property) && !(value as Schema).$ref && !(value as Schema).items?.$ref,
        )
        .map(([property, value]) => [`${name}.${property}`, (value as Schema).items?.type ?? (value as Schema).type]),
    );
    expect(counts.length).toBeGreaterThan(50);
    expect(counts.filter(([, type]) => type !== 'integer')).toEqual([]);
    expect(schemas.UnavailableGpuDto!.properties.index.type).toBe('integer');
    // Only genuinely fractional figures stay numbers: a GPU model's TFLOP/s and bandwidth (and a
    // round's phase timings, in tenths of a millisecond, under `additionalProperties`).
    const numbers = Object.entries(schemas).flatMap(([name, schema]) =>
      Object.entries(schema.properties ?? {})
        .filter(([, value]) => (value as Schema).type === 'number' || (value as Schema).items?.type === 'number')
        .map(([property]) => `${name}.${property}`),
    );
    expect(numbers.sort()).toEqual(['CreateGpuModelDto.bf16Tflops', 'CreateGpuModelDto.memoryBandwidthTBs']);
  });

  it('documents every route the service registers', () => {
    const express = t.app.getHttpAdapter().getInstance();
    const stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }> = (
      express.router ?? express._router
    ).stack;
    const registered = stack
      // The document itself, and the dashboard's HTML pages (not API: @ApiExcludeController).
      .filter((layer) => layer.route && !/^\/(docs|dashboard)\b/.test(layer.route.path))
      .flatMap((layer) =>
        Object.keys(layer.route!.methods).map(
          (method) => `${method.toUpperCase()} ${layer.route!.path.replace(/:(\w+)/g, '{$1}')}`,
        ),
      );
    const documented = Object.entries(document.paths as Record<string, Schema>).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(registered.length).toBeGreaterThan(30);
    expect(registered.filter((route) => !documented.includes(route))).toEqual([]);
  });

  it('has examples that are valid under its own schemas', () => {
    const problems: string[] = [];
    let examples = 0;
    for (const [name, schema] of Object.entries(schemas))
      for (const [property, value] of Object.entries(schema.properties ?? {}) as Array<[string, Schema]>)
        if (value.example !== undefined) {
          examples++;
          problems.push(...check(value.example, { ...value, example: undefined }, `${name}.${property}`, schemas));
        }
    for (const [path, operations] of Object.entries(document.paths as Record<string, Schema>))
      for (const [method, operation] of Object.entries(operations))
        for (const parameter of (operation as Schema).parameters ?? [])
          if (parameter.example !== undefined || parameter.schema?.example !== undefined) {
            examples++;
            problems.push(
              ...check(
                parameter.example ?? parameter.schema.example,
                parameter.schema ?? {},
                `${method} ${path} ?${parameter.name}`,
                schemas,
              ),
            );
          }
    expect(examples).toBeGreaterThan(20);
    expect(problems).toEqual([]);
  });
});
