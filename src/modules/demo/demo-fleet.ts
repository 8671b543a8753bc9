import type { NodeInputDto } from '../inventory/inventory.dto.js';

/**
 * The fleet a new user's market starts with: three GPU generations in two regions, in fabric
 * blocks of four nodes, with reserves roughly in line with 2026 on-demand discounts.
 */
function nodes(
  prefix: string,
  count: number,
  fields: Omit<NodeInputDto, 'externalId' | 'block'> & { blockPrefix: string },
): NodeInputDto[] {
  const { blockPrefix, ...rest } = fields;
  return Array.from({ length: count }, (_, i) => ({
    ...rest,
    externalId: `${prefix}-${String(i + 1).padStart(2, '0')}`,
    block: `${blockPrefix}-b${Math.floor(i / 4) + 1}`,
  }));
}

export const DEMO_FLEET: readonly NodeInputDto[] = [
  ...nodes('use-h100', 8, {
    gpuModel: 'H100-SXM-80GB',
    gpus: 8,
    region: 'us-east',
    blockPrefix: 'use-h100',
    reservePrice: '1.80',
    compliance: ['soc2'],
  }),
  ...nodes('use-a100', 4, {
    gpuModel: 'A100-SXM-80GB',
    gpus: 8,
    region: 'us-east',
    blockPrefix: 'use-a100',
    reservePrice: '0.90',
    compliance: ['soc2'],
  }),
  ...nodes('euw-h200', 4, {
    gpuModel: 'H200-SXM-141GB',
    gpus: 8,
    region: 'eu-west',
    blockPrefix: 'euw-h200',
    reservePrice: '2.60',
    compliance: ['soc2', 'eu-residency'],
  }),
  ...nodes('euw-l40s', 4, {
    gpuModel: 'L40S-48GB',
    gpus: 4,
    region: 'eu-west',
    blockPrefix: 'euw-l40s',
    reservePrice: '0.60',
    compliance: ['eu-residency'],
  }),
];
