import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { catalogueNameForGpu } from '../../src/agent/gpu-names.js';
import { catalogueNameForGresType } from '../../src/modules/dispatch/adapters/gpu-model-names.js';
import { auth } from '../support/fixtures.js';
import { createTestApp, type TestApp } from '../support/test-app.js';

/** nvidia-smi `name` values of the GPUs issue 15 lists, as drivers print them. */
const NVIDIA_SMI = [
  'NVIDIA H100 80GB HBM3',
  'NVIDIA H100 PCIe',
  'NVIDIA H100 NVL',
  'NVIDIA H200',
  'NVIDIA H200 NVL',
  'NVIDIA GH200 480GB',
  'NVIDIA GH200 144G HBM3e',
  'NVIDIA B200',
  'NVIDIA GB200',
  'NVIDIA L40S',
  'NVIDIA L4',
  'NVIDIA A10G',
  'NVIDIA A100-SXM4-80GB',
  'NVIDIA A100-SXM4-40GB',
  'NVIDIA A100 80GB PCIe',
  'NVIDIA A100-PCIE-40GB',
];
const GRES = ['gb200', 'b200', 'h200', 'h100', 'h100_pcie', 'a100', 'a100_40g', 'l40s', 'l4'];

describe('the GPU catalogue knows every model the agent and the Slurm adapter name', () => {
  let t: TestApp;
  let catalogue: Set<string>;
  beforeAll(async () => {
    t = await createTestApp();
    const response = await t.http().get('/v1/gpu-models').set(auth(t.adminKey)).expect(200);
    catalogue = new Set(
      (response.body.gpuModels ?? response.body.models ?? response.body).map((m: { name: string }) => m.name),
    );
  });
  afterAll(() => t.close());

  it.each(NVIDIA_SMI)('nvidia-smi %s', (name) => {
    const model = catalogueNameForGpu(name);
    expect(model, `${name} maps to no catalogue name`).toBeDefined();
    expect(catalogue.has(model!), `${model} is not in the catalogue`).toBe(true);
  });

  it.each(GRES)('gres type %s', (type) => {
    const model = catalogueNameForGresType(type);
    expect(model).toBeDefined();
    expect(catalogue.has(model!), `${model} is not in the catalogue`).toBe(true);
  });
});
