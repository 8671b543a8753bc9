import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogueNameForNvidiaSmi } from '../modules/dispatch/adapters/gpu-model-names.js';
import { nvlinkIslands, parseGpuQuery, parseTopology } from './nvidia-smi-parser.js';

const fixture = (name: string) => readFileSync(new URL(`../../test/adapters/fixtures/nvidia-smi/${name}`, import.meta.url), 'utf8');

describe('nvidia-smi GPU query', () => {
  it('reads index, uuid, name and memory of every GPU of an 8x H100 node', () => {
    const gpus = parseGpuQuery(fixture('h100-8x.query-gpu.csv'));
    expect(gpus).toHaveLength(8);
    expect(gpus[0]).toEqual({ index: 0, uuid: 'GPU-6e1c4f0b-3a42-9d1e-5c7b-2f8a9e0d4b11', name: 'NVIDIA H100 80GB HBM3', memoryMiB: 81559 });
    expect(gpus.map((gpu) => gpu.index)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it('rejects a line that is not the four queried fields', () => {
    expect(() => parseGpuQuery('0, GPU-x, NVIDIA H100 80GB HBM3\n')).toThrow(/4 fields/);
    expect(() => parseGpuQuery('0, GPU-x, NVIDIA H100 80GB HBM3, [N/A]\n')).toThrow(/MiB/);
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
    const text = '\tGPU0\tGPU1\tGPU2\tGPU3\tCPU Affinity\n' +
      'GPU0\t X \tNV4\tSYS\tSYS\t0-15\nGPU1\tNV4\t X \tSYS\tSYS\t0-15\nGPU2\tSYS\tSYS\t X \tNV4\t16-31\nGPU3\tSYS\tSYS\tNV4\t X \t16-31\n';
    expect(nvlinkIslands(parseTopology(text))).toEqual([[0, 1], [2, 3]]);
  });
});
