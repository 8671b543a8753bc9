import { expect } from 'vitest';
import type { TestApp } from './test-app.js';

export const auth = (key: string) => ({ Authorization: `Bearer ${key}` });

export async function createTenant(t: TestApp, name = 'tenant'): Promise<{ id: string; apiKey: string }> {
  const response = await t.http().post('/v1/tenants').set(auth(t.adminKey)).send({ name });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

export async function createProvider(
  t: TestApp,
  name = 'provider',
  adapter = 'simulated',
): Promise<{ id: string; apiKey: string }> {
  const response = await t.http().post('/v1/providers').set(auth(t.adminKey)).send({ name, adapter });
  expect(response.status, JSON.stringify(response.body)).toBe(201);
  return response.body;
}

export function node(externalId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    externalId,
    gpuModel: 'H100-SXM-80GB',
    gpus: 8,
    region: 'eu-west',
    block: 'b1',
    reservePrice: '1.50',
    ...overrides,
  };
}

export async function putNodes(
  t: TestApp,
  providerKey: string,
  nodes: Record<string, unknown>[],
): Promise<Array<Record<string, unknown>>> {
  const response = await t.http().put('/v1/nodes').set(auth(providerKey)).send({ nodes });
  expect(response.status, JSON.stringify(response.body)).toBe(200);
  return response.body.nodes;
}

/** A valid bid body; override any field. */
export function bidBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    gpus: 8,
    offers: [{ gpuModel: 'H100-SXM-80GB', maxPrice: '2.50' }],
    contiguity: 'node',
    preemptible: false,
    runtimeSeconds: 3600,
    workload: { image: 'nvcr.io/nvidia/pytorch:24.10-py3', command: ['python', 'train.py'] },
    ...overrides,
  };
}
