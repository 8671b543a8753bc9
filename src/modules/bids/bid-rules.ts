import type { Contiguity } from '../../core/market/types.js';
import type { FieldProblem } from '../../platform/errors/app-error.js';
import type { CreateBidDto } from './bid.dto.js';

/** Without inventory of a bid's models, the largest gangs the market could ever place. */
export const DEFAULT_LARGEST_NODE_GPUS = 8; // an HGX/DGX board
export const DEFAULT_LARGEST_NVLINK_GPUS = 72; // a GB200 NVL72 rack
export const MAX_WINDOW_DAYS = 366;

export interface BidContext {
  readonly now: Date;
  /** GPU memory per model in the catalogue. */
  readonly gpuMemoryGb: ReadonlyMap<string, number>;
  /** Largest node / NVLink domain among registered nodes of the offered models (null: none registered). */
  readonly largest: { readonly node: number | null; readonly nvlink: number | null };
}

/**
 * The rules of a bid that span fields or need the catalogue and inventory (class-validator
 * checks each field alone). Pure: everything it needs is passed in.
 */
export function checkBid(bid: CreateBidDto, context: BidContext): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const seen = new Set<string>();
  bid.offers.forEach((offer, i) => {
    if (!context.gpuMemoryGb.has(offer.gpuModel)) {
      problems.push({
        field: `offers[${i}].gpuModel`,
        rule: 'unknown_gpu_model',
        message: `unknown GPU model ${offer.gpuModel}; see GET /v1/gpu-models`,
      });
    } else if (seen.has(offer.gpuModel)) {
      problems.push({
        field: `offers[${i}].gpuModel`,
        rule: 'unique',
        message: `${offer.gpuModel} is offered more than once`,
      });
    }
    seen.add(offer.gpuModel);
  });

  const minMemory = bid.minGpuMemoryGb ?? 0;
  const known = bid.offers.filter((o) => context.gpuMemoryGb.has(o.gpuModel));
  if (known.length > 0 && minMemory > 0 && known.every((o) => context.gpuMemoryGb.get(o.gpuModel)! < minMemory)) {
    problems.push({
      field: 'minGpuMemoryGb',
      rule: 'no_offer_qualifies',
      message: `no offered GPU model has ${minMemory} GB or more`,
    });
  }

  const limit = gangLimit(bid.contiguity, context.largest);
  if (limit !== null && bid.gpus > limit) {
    problems.push({
      field: 'gpus',
      rule: 'contiguity_impossible',
      message: `a ${bid.gpus}-GPU gang cannot fit contiguity "${bid.contiguity}": the largest ${bid.contiguity === 'node' ? 'node' : 'NVLink domain'} of the offered models has ${limit} GPUs`,
    });
  }

  if (bid.window) problems.push(...checkWindow(bid.window, bid.runtimeSeconds, context.now));
  if (bid.workload.image === undefined && bid.workload.command === undefined) {
    problems.push({ field: 'workload', rule: 'image_or_command', message: 'workload needs an image or a command' });
  }
  return problems;
}

function gangLimit(contiguity: Contiguity, largest: BidContext['largest']): number | null {
  if (contiguity === 'node') return largest.node ?? DEFAULT_LARGEST_NODE_GPUS;
  if (contiguity === 'nvlink') return largest.nvlink ?? DEFAULT_LARGEST_NVLINK_GPUS;
  return null;
}

function checkWindow(
  window: { notBefore?: string; deadline: string },
  runtimeSeconds: number,
  now: Date,
): FieldProblem[] {
  const deadline = Date.parse(window.deadline);
  const notBefore = window.notBefore === undefined ? now.getTime() : Date.parse(window.notBefore);
  if (deadline <= now.getTime()) {
    return [{ field: 'window.deadline', rule: 'in_past', message: 'the deadline has already passed' }];
  }
  if (deadline <= notBefore) {
    return [{ field: 'window.deadline', rule: 'after_not_before', message: 'deadline must be after notBefore' }];
  }
  if (deadline - notBefore < runtimeSeconds * 1000) {
    return [
      {
        field: 'window',
        rule: 'window_too_short',
        message: `the window is shorter than runtimeSeconds (${runtimeSeconds} s)`,
      },
    ];
  }
  if (deadline - Math.max(notBefore, now.getTime()) < runtimeSeconds * 1000) {
    return [
      {
        field: 'window.deadline',
        rule: 'too_soon',
        message: `from now, the run time no longer fits before the deadline`,
      },
    ];
  }
  if (deadline - now.getTime() > MAX_WINDOW_DAYS * 86_400_000) {
    return [{ field: 'window.deadline', rule: 'too_far', message: `deadline must be within ${MAX_WINDOW_DAYS} days` }];
  }
  return [];
}
