import { Module } from '@nestjs/common';
import { GangLimitsService } from './gang-limits.service.js';
import { GpuCatalogService } from './gpu-catalog.service.js';
import { GpuModelsController } from './gpu-models.controller.js';
import { GpuModelsRepository } from './gpu-models.repository.js';
import { NodesController } from './nodes.controller.js';
import { NodesRepository } from './nodes.repository.js';
import { NodesService } from './nodes.service.js';

@Module({
  controllers: [GpuModelsController, NodesController],
  providers: [GpuModelsRepository, GpuCatalogService, NodesRepository, NodesService, GangLimitsService],
  exports: [GpuCatalogService, NodesRepository, NodesService, GangLimitsService],
})
export class InventoryModule {}
