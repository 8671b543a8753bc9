import { randomBytes, randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { replicaOffers } from '../../core/services/replica-value.js';
import { formatAmount, formatPrice, toMoney } from '../../core/money/money.js';
import { type FieldProblem, ValidationFailedError } from '../../platform/errors/app-error.js';
import { MAX_RUNTIME_SECONDS, type CreateBidDto } from '../bids/bid.dto.js';
import { BidsService } from '../bids/bids.service.js';
import { SERVICE_PORT_ENV, SERVICE_READINESS_ENV } from '../dispatch/adapters/nvidia-agent/agent-protocol.js';
import type { CreateServiceDto, ServiceDto, UpdateServiceDto } from './service.dto.js';
import { ServiceError, ServiceErrorCode } from './service.error.js';
import { hashInvokeKey, ServicesGateway } from './services-gateway.js';
import {
  type ReplicaSpec,
  type ScalingSettings,
  type ServiceRow,
  type ServiceWorkload,
  ServicesRepository,
} from './services.repository.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const SERVICE_ID_ENV = 'GPUMARKET_SERVICE_ID';

export const SCALING_DEFAULTS: ScalingSettings = {
  minReplicas: 0,
  maxReplicas: 1,
  targetConcurrency: 1,
  scaleDownDelaySeconds: 300,
  scaleToZeroAfterSeconds: 600,
  maxPendingRequests: 100,
  pendingTimeoutSeconds: 120,
  stableWindowSeconds: 60,
  panicWindowSeconds: 6,
};

/** The bid of replica `rank`: the service's replica fields, its workload, the rank's value. */
export function replicaBid(
  service: Pick<ServiceRow, 'id' | 'replica' | 'workload' | 'minReplicas'>,
  rank: number,
): CreateBidDto {
  const { replica, workload } = service;
  return {
    gpus: replica.gpus,
    offers: replicaOffers(replica.offers, rank, service.minReplicas),
    contiguity: replica.contiguity as CreateBidDto['contiguity'],
    preemptible: replica.preemptible,
    // A replica runs until the autoscaler ends it; a lease that reaches this is replaced.
    runtimeSeconds: MAX_RUNTIME_SECONDS,
    regions: replica.regions,
    compliance: replica.compliance,
    minGpuMemoryGb: replica.minGpuMemoryGb,
    workload: {
      image: workload.image,
      command: workload.command,
      env: {
        ...workload.env,
        PORT: String(workload.port),
        [SERVICE_ID_ENV]: service.id,
        [SERVICE_PORT_ENV]: String(workload.port),
        [SERVICE_READINESS_ENV]: workload.readinessPath,
      },
    },
  };
}

/** GET /v1/services/:id shows the stored per-minute counts of the last hour. */
const TRAFFIC_SERIES_MINUTES = 60;

@Injectable()
export class ServicesService {
  constructor(
    private readonly repository: ServicesRepository,
    private readonly bids: BidsService,
    private readonly gateway: ServicesGateway,
  ) {}

  async create(tenantId: string, input: CreateServiceDto, baseUrl: string): Promise<ServiceDto> {
    const settings = settingsOf(input, SCALING_DEFAULTS);
    const problems = [...checkSettings(settings), ...checkWorkload(input.workload)];
    const replica: ReplicaSpec = {
      gpus: input.replica.gpus,
      offers: input.replica.offers.map((o) => ({ gpuModel: o.gpuModel, maxPrice: toMoney(o.maxPrice).toFixed() })),
      contiguity: input.replica.contiguity,
      preemptible: input.replica.preemptible,
      regions: input.replica.regions ?? [],
      compliance: input.replica.compliance ?? [],
      minGpuMemoryGb: input.replica.minGpuMemoryGb ?? 0,
    };
    const workload: ServiceWorkload = {
      image: input.workload.image,
      command: input.workload.command,
      port: input.workload.port,
      readinessPath: input.workload.readinessPath ?? '/',
      env: input.workload.env,
    };
    const id = randomUUID();
    // The replica is held to every rule a bid is (models, memory, contiguity against the fleet).
    try {
      await this.bids.check(replicaBid({ id, replica, workload, minReplicas: settings.minReplicas }, 1));
    } catch (error) {
      if (!(error instanceof ValidationFailedError)) throw error;
      problems.push(
        ...error.details.map((p) => ({ ...p, field: p.field.startsWith('workload') ? p.field : `replica.${p.field}` })),
      );
    }
    if (problems.length > 0) throw new ValidationFailedError(problems);
    const invokeKey = `gms_${randomBytes(24).toString('base64url')}`;
    const row = await this.repository.insert({
      id,
      tenantId,
      name: input.name,
      replica,
      workload,
      ...settings,
      invokeKeyHash: hashInvokeKey(invokeKey),
      invokeKeyPrefix: invokeKey.slice(0, 10),
    });
    if (!row)
      throw new ServiceError(ServiceErrorCode.NameTaken, `this tenant already has a service named ${input.name}`);
    this.gateway.remember(row);
    return { ...this.view(row, baseUrl), invokeKey };
  }

  async list(tenantId: string, baseUrl: string): Promise<ServiceDto[]> {
    return (await this.repository.list(tenantId)).map((row) => this.view(row, baseUrl));
  }

  async get(tenantId: string, id: string, baseUrl: string): Promise<ServiceDto> {
    const row = await this.own(tenantId, id);
    const traffic = this.gateway.trafficOf(row.id);
    const [replicas, decisions, coldStarts, usage, minutes] = await Promise.all([
      this.repository.liveReplicas(row.id),
      this.repository.decisions(row.id, 20),
      this.repository.coldStarts(row.id, 20),
      this.repository.usage(row.id, row.scaleDownDelaySeconds),
      this.repository.trafficByMinute(row.id, new Date(Date.now() - TRAFFIC_SERIES_MINUTES * 60_000)),
    ]);
    const ms = (from: Date | null, to: Date | null) =>
      from && to ? new Date(to).getTime() - new Date(from).getTime() : null;
    return {
      ...this.view(row, baseUrl),
      readyReplicas: replicas.filter((r) => r.state === 'ready').length,
      usage: { gpuSeconds: usage.gpuSeconds, charged: formatAmount(toMoney(usage.charged)), flaps: usage.flaps },
      trafficByMinute: minutes.map((m) => ({ ...m, minute: new Date(m.minute).toISOString() })),
      replicas: replicas.map((r) => ({
        id: r.id,
        rank: r.rank,
        state: r.state,
        bidId: r.bidId,
        leaseId: r.latestLeaseId,
        leaseState: r.latestLeaseState,
        endpoint: r.state === 'ready' ? r.endpoint : null,
        maxPrice: formatPrice(
          toMoney(r.bidMaxPrice ?? replicaOffers(row.replica.offers, r.rank, row.minReplicas)[0]!.maxPrice),
        ),
        inFlight: traffic.inFlightOn(r.id),
        requestedAt: new Date(r.requestedAt).toISOString(),
        readyAt: r.readyAt ? new Date(r.readyAt).toISOString() : null,
      })),
      decisions: decisions.map((d) => ({
        decidedAt: new Date(d.decidedAt).toISOString(),
        from: d.from,
        to: d.to,
        reason: d.reason,
        inputs: d.inputs,
      })),
      coldStarts: coldStarts.map((c) => ({
        replicaId: c.replicaId,
        fromZero: c.fromZero,
        requestedAt: new Date(c.requestedAt).toISOString(),
        marketWaitMs: ms(c.requestedAt, c.allocatedAt),
        dispatchMs: ms(c.allocatedAt, c.spawnedAt),
        processStartMs: ms(c.spawnedAt, c.listeningAt),
        readinessMs: ms(c.listeningAt ?? c.spawnedAt, c.readyAt),
        totalMs: ms(c.requestedAt, c.readyAt)!,
      })),
    };
  }

  async update(tenantId: string, id: string, input: UpdateServiceDto, baseUrl: string): Promise<ServiceDto> {
    const row = await this.own(tenantId, id);
    if (row.state !== 'active') throw new ServiceError(ServiceErrorCode.NotActive, `service ${id} is being deleted`);
    const problems = checkSettings(settingsOf(input, row));
    if (problems.length > 0) throw new ValidationFailedError(problems);
    await this.repository.updateSettings(row.id, settingsOf(input, {} as ScalingSettings));
    const updated = (await this.repository.findById(row.id))!;
    this.gateway.remember(updated);
    return this.get(tenantId, id, baseUrl);
  }

  /** Takes no more requests; the runner drains every replica (in-flight requests finish), then ends it. */
  async remove(tenantId: string, id: string, baseUrl: string): Promise<ServiceDto> {
    const row = await this.own(tenantId, id);
    await this.repository.markDeleting(row.id);
    const updated = (await this.repository.findById(row.id))!;
    this.gateway.remember(updated);
    return this.view(updated, baseUrl);
  }

  private async own(tenantId: string, id: string): Promise<ServiceRow> {
    const row = UUID.test(id) ? await this.repository.findOwn(tenantId, id) : null;
    if (!row) throw new ServiceError(ServiceErrorCode.NotFound, `no service ${id}`);
    return row;
  }

  private view(row: ServiceRow, baseUrl: string): ServiceDto {
    const traffic = this.gateway.trafficOf(row.id);
    // Stored counts of every market process, plus what this one counted since its last flush.
    const unflushed = traffic.unflushed();
    const { workload } = row;
    return {
      id: row.id,
      name: row.name,
      url: `${baseUrl}/v1/services/${row.id}/invoke`,
      state: row.state,
      replica: {
        ...row.replica,
        offers: row.replica.offers.map((o) => ({ gpuModel: o.gpuModel, maxPrice: formatPrice(toMoney(o.maxPrice)) })),
      },
      workload: {
        image: workload.image,
        command: workload.command,
        port: workload.port,
        readinessPath: workload.readinessPath,
        env: workload.env,
      },
      minReplicas: row.minReplicas,
      maxReplicas: row.maxReplicas,
      targetConcurrency: row.targetConcurrency,
      scaleDownDelaySeconds: row.scaleDownDelaySeconds,
      scaleToZeroAfterSeconds: row.scaleToZeroAfterSeconds,
      maxPendingRequests: row.maxPendingRequests,
      pendingTimeoutSeconds: row.pendingTimeoutSeconds,
      stableWindowSeconds: row.stableWindowSeconds,
      panicWindowSeconds: row.panicWindowSeconds,
      desiredReplicas: row.desiredReplicas,
      readyReplicas: traffic.routableIds().length,
      pendingRequests: traffic.held.length,
      traffic: {
        requests: Number(row.requestsTotal) + unflushed.requests,
        rejected: Number(row.rejectedTotal) + unflushed.rejected,
        timedOut: Number(row.timedOutTotal) + unflushed.timedOut,
      },
      invokeKeyPrefix: row.invokeKeyPrefix,
      createdAt: new Date(row.createdAt).toISOString(),
      updatedAt: new Date(row.updatedAt).toISOString(),
    };
  }
}

function settingsOf(input: Partial<ScalingSettings>, base: Partial<ScalingSettings>): ScalingSettings {
  const merged = {} as Record<keyof ScalingSettings, number>;
  for (const key of Object.keys(SCALING_DEFAULTS) as Array<keyof ScalingSettings>) {
    const value = input[key] ?? base[key];
    if (value !== undefined) merged[key] = value;
  }
  return merged as ScalingSettings;
}

function checkSettings(s: ScalingSettings): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (s.maxReplicas < s.minReplicas)
    problems.push({
      field: 'maxReplicas',
      rule: 'at_least_min_replicas',
      message: 'maxReplicas must be at least minReplicas',
    });
  if (s.panicWindowSeconds > s.stableWindowSeconds)
    problems.push({
      field: 'panicWindowSeconds',
      rule: 'at_most_stable_window',
      message: 'panicWindowSeconds must be at most stableWindowSeconds',
    });
  return problems;
}

function checkWorkload(workload: CreateServiceDto['workload']): FieldProblem[] {
  const problems: FieldProblem[] = [];
  if (!workload.image && !workload.command)
    problems.push({ field: 'workload', rule: 'image_or_command', message: 'workload needs an image or a command' });
  for (const name of Object.keys(workload.env ?? {})) {
    if (name === 'PORT' || name.startsWith('GPUMARKET_'))
      problems.push({
        field: `workload.env.${name}`,
        rule: 'reserved_name',
        message: `${name} is set by the platform (PORT and GPUMARKET_* are reserved)`,
      });
  }
  return problems;
}
