import { Body, Controller, Get, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import { Roles } from '../auth/auth.decorators.js';
import { GpuCatalogService } from './gpu-catalog.service.js';
import type { GpuModel } from './gpu-models.repository.js';
import { CreateGpuModelDto, GpuModelDto } from './inventory.dto.js';

function toDto(model: GpuModel): GpuModelDto {
  return { ...model, bf16Tflops: Number(model.bf16Tflops), memoryBandwidthTBs: Number(model.memoryBandwidthTBs) };
}

@ApiTags('inventory')
@ApiBearerAuth()
@Controller('v1/gpu-models')
export class GpuModelsController {
  constructor(private readonly catalog: GpuCatalogService) {}

  @Get()
  async list(): Promise<GpuModelDto[]> {
    return (await this.catalog.list()).map(toDto);
  }

  @Post()
  @Roles('admin')
  async create(@Body() body: CreateGpuModelDto): Promise<GpuModelDto> {
    return toDto(
      await this.catalog.add({
        ...body,
        bf16Tflops: String(body.bf16Tflops),
        memoryBandwidthTBs: String(body.memoryBandwidthTBs),
      }),
    );
  }
}
