import { Inject, Injectable } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '../../platform/config/config.js';
import { NvidiaAgentAdapter } from './adapters/nvidia-agent/nvidia-agent.adapter.js';
import { PgAgentOrderQueue } from './adapters/nvidia-agent/pg-agent-order-queue.js';
import { AdapterError, type AdapterKind, type ProviderAdapter } from './adapters/provider-adapter.js';
import { PgSimulatedFleetStore } from './adapters/pg-simulated-fleet-store.js';
import { SimulatedAdapter } from './adapters/simulated.adapter.js';

/**
 * Which adapter carries a provider's orders. One adapter instance per provider, created on
 * first use: adapters keep connections and timers (a controller client, a notice's hard stop).
 * What must outlive a process (a simulated fleet's workloads) they keep in PostgreSQL.
 */
@Injectable()
export class AdapterRegistry {
  private readonly adapters = new Map<string, Promise<ProviderAdapter>>();
  private readonly factories = new Map<AdapterKind, (providerId: string) => Promise<ProviderAdapter>>();

  constructor(
    private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    // The fleet's workloads live in PostgreSQL, so restarts and replicas see one fleet; in demos
    // it runs faster than the clock (SIMULATED_TIME_SCALE).
    this.factories.set(
      'simulated',
      async (providerId) =>
        new SimulatedAdapter({
          store: new PgSimulatedFleetStore(this.dataSource, providerId),
          timeScale: this.config.simulatedTimeScale,
        }),
    );
    this.factories.set('nvidia-agent', async (providerId) => new NvidiaAgentAdapter(this.agentQueue(providerId)));
    this.factories.set('slurm', async () => {
      if (!this.config.slurm)
        throw AdapterError.permanent(
          'no slurm adapter is configured on this service: set SLURM_BIN_DIR (and SLURM_PARTITION, SLURM_ACCOUNT, SLURM_CONF as needed)',
        );
      const { SlurmAdapter } = await import('./adapters/slurm/slurm.adapter.js');
      return new SlurmAdapter(this.config.slurm);
    });
    this.factories.set('kubernetes', async () => {
      const kube = this.config.kubernetes;
      if (!kube)
        throw AdapterError.permanent(
          'no kubernetes adapter is configured on this service: set KUBE_NAMESPACE (and KUBECONFIG unless it runs in the cluster)',
        );
      // Loaded on first use: the client library is large and most markets never need it.
      const [{ KubeConfig }, { KubernetesAdapter }] = await Promise.all([
        import('@kubernetes/client-node'),
        import('./adapters/kubernetes/kubernetes.adapter.js'),
      ]);
      const kubeConfig = new KubeConfig();
      if (kube.kubeconfig) kubeConfig.loadFromFile(kube.kubeconfig);
      else kubeConfig.loadFromDefault();
      return new KubernetesAdapter({
        kubeConfig,
        namespace: kube.namespace,
        noticeSeconds: this.config.preemptionNoticeSeconds,
      });
    });
  }

  /** The agent order queue of one nvidia-agent provider; stateless, so a fresh one per caller is fine. */
  agentQueue(providerId: string): PgAgentOrderQueue {
    return new PgAgentOrderQueue(this.dataSource, providerId);
  }

  /** Installs the adapter a kind of fleet uses (the Slurm, Kubernetes and agent modules do). */
  register(kind: AdapterKind, factory: (providerId: string) => Promise<ProviderAdapter>): void {
    this.factories.set(kind, factory);
  }

  /** Replaces the adapter of one provider (tests drive a fleet they hold). */
  use(providerId: string, adapter: ProviderAdapter): void {
    this.adapters.set(providerId, Promise.resolve(adapter));
  }

  /**
   * The provider's adapter, built on first use. The creation itself is what is cached: orders
   * are dispatched several at a time, and each building its own adapter (the last one winning)
   * split a fleet's state between instances. A creation that failed is forgotten, so that the
   * next order tries again (configuration fixed, controller back).
   */
  async forProvider(providerId: string, kind: AdapterKind): Promise<ProviderAdapter> {
    let adapter = this.adapters.get(providerId);
    if (!adapter) {
      const factory = this.factories.get(kind);
      if (!factory) throw AdapterError.permanent(`no ${kind} adapter is configured on this service`);
      const created = factory(providerId);
      adapter = created;
      this.adapters.set(providerId, created);
      created.catch(() => {
        if (this.adapters.get(providerId) === created) this.adapters.delete(providerId);
      });
    }
    return adapter;
  }
}
