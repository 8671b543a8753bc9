/**
 * How providers' tools name GPUs, mapped onto the market's catalogue names (migrations seed the
 * catalogue). nvidia-smi reports marketing names; Slurm gres types are whatever the operator wrote
 * in gres.conf, so those are matched loosely and can be overridden on the command line.
 */
const NVIDIA_SMI_NAMES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^NVIDIA GB200$/i, 'GB200-NVL-186GB'],
  [/^NVIDIA B200$/i, 'B200-SXM-180GB'],
  [/^NVIDIA H200( 141GB HBM3e)?$/i, 'H200-SXM-141GB'],
  [/^NVIDIA H100 80GB HBM3$/i, 'H100-SXM-80GB'],
  [/^NVIDIA H100 PCIe$/i, 'H100-PCIe-80GB'],
  [/^NVIDIA A100-SXM4-80GB$/i, 'A100-SXM-80GB'],
  [/^NVIDIA A100-SXM4-40GB$/i, 'A100-SXM-40GB'],
  [/^NVIDIA L40S$/i, 'L40S-48GB'],
  [/^NVIDIA L4$/i, 'L4-24GB'],
];

/** The catalogue name for an nvidia-smi `name`, or undefined when the table does not know it. */
export function catalogueNameForNvidiaSmi(name: string): string | undefined {
  const trimmed = name.trim();
  return NVIDIA_SMI_NAMES.find(([pattern]) => pattern.test(trimmed))?.[1];
}

const GRES_TYPES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^gb200/i, 'GB200-NVL-186GB'],
  [/^b200/i, 'B200-SXM-180GB'],
  [/^h200/i, 'H200-SXM-141GB'],
  [/^h100[-_]?pcie/i, 'H100-PCIe-80GB'],
  [/^h100/i, 'H100-SXM-80GB'],
  [/^a100[-_]?(sxm4?[-_]?)?40g/i, 'A100-SXM-40GB'],
  [/^a100/i, 'A100-SXM-80GB'],
  [/^l40s/i, 'L40S-48GB'],
  [/^l4$/i, 'L4-24GB'],
];

/** The catalogue name for a Slurm gres type (`h100`, `a100_80g`...), overrides first. */
export function catalogueNameForGresType(
  type: string,
  overrides: Readonly<Record<string, string>> = {},
): string | undefined {
  return overrides[type] ?? GRES_TYPES.find(([pattern]) => pattern.test(type))?.[1];
}
