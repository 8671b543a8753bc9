import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogueNameForNvidiaSmi } from '../modules/dispatch/adapters/gpu-model-names.js';
import { gpuAvailability } from './gpu-health.js';
import { catalogueNameForGpu } from './gpu-names.js';
import { nvlinkIslands, parseGpuHealth, parseGpuQuery, parseTopology } from './nvidia-smi-parser.js';

const fixture = (name: string) =>
  readFileSync(new URL(`../../test/adapters/fixtures/nvidia-smi/${name}`, import.meta.url), 'utf8');

describe('nvidia-smi GPU query', () => {
  it('reads index, uuid, name and memory of every GPU of an 8x H100 node', () => {
    const gpus = parseGpuQuery(fixture('h100-8x.query-gpu.csv'));
    expect(gpus).toHaveLength(8);
    expect(gpus[0]).toEqual({
      index: 0,
      uuid: 'GPU-6e1c4f0b-3a42-9d1e-5c7b-2f8a9e0d4b11',
      name: 'NVIDIA H100 80GB HBM3',
      memoryMiB: 81559,
    });
    expect(gpus.map((gpu) => gpu.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects a line that is not the four queried fields', () => {
    expect(() => parseGpuQuery('0, GPU-x, NVIDIA H100 80GB HBM3\n')).toThrow(/4 fields/);
    expect(() => parseGpuQuery('0, GPU-x, NVIDIA H100 80GB HBM3, 80 GiB\n')).toThrow(/MiB/);
  });

  it('reads [N/A] and [Not Supported] as no value, skips empty lines and ignores extra trailing fields', () => {
    expect(
      parseGpuQuery('\n0, GPU-a, NVIDIA GH200 480GB, [N/A]\n\n1, GPU-b, NVIDIA GH200 480GB, [Not Supported], 5\n'),
    ).toEqual([
      { index: 0, uuid: 'GPU-a', name: 'NVIDIA GH200 480GB' },
      { index: 1, uuid: 'GPU-b', name: 'NVIDIA GH200 480GB' },
    ]);
    expect(parseGpuQuery(fixture('gh200-1x.query-gpu.csv'))[0]!.memoryMiB).toBeUndefined();
  });

  it.each([
    ['h100-8x', 'H100-SXM-80GB'],
    ['h200-8x', 'H200-SXM-141GB'],
    ['l40s-4x', 'L40S-48GB'],
  ])('maps the %s names onto the catalogue name %s', (machine, catalogue) => {
    const [gpu] = parseGpuQuery(fixture(`${machine}.query-gpu.csv`));
    expect(catalogueNameForNvidiaSmi(gpu!.name)).toBe(catalogue);
  });

  it('does not guess a catalogue name for a GPU the table does not know', () => {
    expect(catalogueNameForNvidiaSmi('NVIDIA GeForce RTX 4090')).toBeUndefined();
    expect(catalogueNameForGpu('NVIDIA GeForce RTX 4090')).toBeUndefined();
  });

  it.each([
    ['h100-8x', 'H100-SXM-80GB'],
    ['h100-pcie-2x', 'H100-PCIe-80GB'],
    ['h100-nvl-2x', 'H100-NVL-94GB'],
    ['h200-8x', 'H200-SXM-141GB'],
    ['gh200-1x', 'GH200-96GB'],
    ['b200-8x', 'B200-SXM-180GB'],
    ['gb200-4x', 'GB200-NVL-186GB'],
    ['l40s-4x', 'L40S-48GB'],
    ['l4-8x', 'L4-24GB'],
    ['a10g-4x', 'A10G-24GB'],
    ['a100-40gb-8x', 'A100-SXM-40GB'],
    ['a100-80gb-8x', 'A100-SXM-80GB'],
  ])('the agent names the GPUs of %s %s', (machine, catalogue) => {
    const gpus = parseGpuQuery(fixture(`${machine}.query-gpu.csv`));
    expect(new Set(gpus.map((gpu) => catalogueNameForGpu(gpu.name)))).toEqual(new Set([catalogue]));
  });

  it.each([
    ['NVIDIA H100 SXM5 80GB', 'H100-SXM-80GB'],
    ['NVIDIA H200 141GB HBM3e', 'H200-SXM-141GB'],
    ['NVIDIA H200 NVL', 'H200-NVL-141GB'],
    ['NVIDIA GH200 144G HBM3e', 'GH200-144GB'],
    ['NVIDIA A100 80GB PCIe', 'A100-PCIe-80GB'],
    ['NVIDIA A100-PCIE-40GB', 'A100-PCIe-40GB'],
  ])('names the variant %s %s', (name, catalogue) => {
    expect(catalogueNameForGpu(name)).toBe(catalogue);
  });
});

describe('nvidia-smi GPU health', () => {
  const discovered = parseGpuQuery(fixture('h100-8x.query-gpu.csv'));

  it('sees every GPU of a healthy node as available', () => {
    expect(
      gpuAvailability(discovered, parseGpuHealth(fixture('h100-8x.health.csv'))).every((gpu) => gpu.available),
    ).toBe(true);
    const l40s = parseGpuQuery(fixture('l40s-4x.query-gpu.csv'));
    expect(gpuAvailability(l40s, parseGpuHealth(fixture('l40s-4x.health.csv'))).every((gpu) => gpu.available)).toBe(
      true,
    );
  });

  it('marks uncorrectable ECC, MIG mode, pending row remapping and a vanished GPU unavailable, by column name', () => {
    const health = gpuAvailability(discovered, parseGpuHealth(fixture('h100-8x-degraded.health.csv')));
    expect(health.filter((gpu) => !gpu.available).map(({ index, reason }) => ({ index, reason }))).toEqual([
      { index: 1, reason: 'ecc' },
      { index: 3, reason: 'mig' },
      { index: 5, reason: 'unhealthy' },
      { index: 7, reason: 'vanished' },
    ]);
    expect(health.find((gpu) => gpu.index === 2)).toMatchObject({ available: true });
  });

  it('tells a vanished GPU by its UUID even when the indices of the rest shifted', () => {
    const [first, second] = discovered;
    const shifted = `index, uuid\n0, ${second!.uuid}\n`;
    expect(gpuAvailability([first!, second!], parseGpuHealth(shifted))).toEqual([
      { index: 0, uuid: first!.uuid, available: false, reason: 'vanished' },
      { index: 1, uuid: second!.uuid, available: true },
    ]);
  });

  it('refuses a health table without index or uuid columns', () => {
    expect(() => parseGpuHealth('name, memory.total [MiB]\nNVIDIA H100, 80\n')).toThrow(/index or uuid/);
    expect(parseGpuHealth('')).toEqual([]);
  });
});

describe('nvidia-smi topo -m', () => {
  it('reads the NV18 mesh of an 8x H100 node, ignoring NIC columns and ANSI underlining', () => {
    const topology = parseTopology(fixture('h100-8x.topo-m.txt'));
    expect(topology.gpus).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(topology.link(0, 7)).toEqual({ kind: 'nvlink', links: 18 });
    expect(topology.link(3, 3)).toBeUndefined();
    expect(nvlinkIslands(topology)).toEqual([[0, 1, 2, 3, 4, 5, 6, 7]]);
  });

  it('sees a PCIe-only L40S node as one island per GPU', () => {
    const topology = parseTopology(fixture('l40s-4x.topo-m.txt'));
    expect(topology.link(0, 1)).toEqual({ kind: 'pcie', path: 'NODE' });
    expect(topology.link(0, 2)).toEqual({ kind: 'pcie', path: 'SYS' });
    expect(nvlinkIslands(topology)).toEqual([[0], [1], [2], [3]]);
  });

  it('finds NVLink pairs on a node where only some GPUs are bridged', () => {
    const text =
      '\tGPU0\tGPU1\tGPU2\tGPU3\tCPU Affinity\n' +
      'GPU0\t X \tNV4\tSYS\tSYS\t0-15\nGPU1\tNV4\t X \tSYS\tSYS\t0-15\nGPU2\tSYS\tSYS\t X \tNV4\t16-31\nGPU3\tSYS\tSYS\tNV4\t X \t16-31\n';
    expect(nvlinkIslands(parseTopology(text))).toEqual([
      [0, 1],
      [2, 3],
    ]);
  });
});
