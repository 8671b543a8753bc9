import { catalogueNameForNvidiaSmi } from '../modules/dispatch/adapters/gpu-model-names.js';

/**
 * nvidia-smi names the shared table (gpu-model-names.ts) does not know yet, mapped onto catalogue
 * names. Some of these catalogue entries do not exist in the market yet (H100 NVL, H200 NVL,
 * GH200, A10G, A100 PCIe): the market then refuses the registration with a message naming the
 * model, and the operator can pass --gpu-model instead.
 */
const AGENT_NAMES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^NVIDIA GB200( \d+GB)?( HBM3e)?$/i, 'GB200-NVL-186GB'],
  [/^NVIDIA B200( \d+GB)?( HBM3e)?$/i, 'B200-SXM-180GB'],
  [/^NVIDIA GH200 144G HBM3e$/i, 'GH200-144GB'],
  [/^NVIDIA GH200( 480GB| 96GB HBM3)?$/i, 'GH200-96GB'],
  [/^NVIDIA H200 NVL$/i, 'H200-NVL-141GB'],
  [/^NVIDIA H100 NVL$/i, 'H100-NVL-94GB'],
  [/^NVIDIA H100 (SXM5 )?80GB( HBM3)?$/i, 'H100-SXM-80GB'],
  [/^NVIDIA H100 PCIe( 80GB)?$/i, 'H100-PCIe-80GB'],
  [/^NVIDIA A100[- ]SXM4?[- ]80GB$/i, 'A100-SXM-80GB'],
  [/^NVIDIA A100[- ]SXM4?[- ]40GB$/i, 'A100-SXM-40GB'],
  [/^NVIDIA A100 80GB PCIe$/i, 'A100-PCIe-80GB'],
  [/^NVIDIA A100-PCIE-40GB$/i, 'A100-PCIe-40GB'],
  [/^NVIDIA A10G$/i, 'A10G-24GB'],
];

/** The catalogue name for an nvidia-smi `name`: the shared table first, then the agent's additions. */
export function catalogueNameForGpu(name: string): string | undefined {
  const trimmed = name.trim();
  return catalogueNameForNvidiaSmi(trimmed) ?? AGENT_NAMES.find(([pattern]) => pattern.test(trimmed))?.[1];
}
