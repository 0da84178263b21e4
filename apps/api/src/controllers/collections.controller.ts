import { Body, Controller, Delete, Get, HttpCode, Param, Post, UseGuards } from '@nestjs/common';
import {
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiConflictResponse,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import {
  CollectionDto,
  CollectionListDto,
  CreateCollectionDto,
  ErrorResponseDto,
} from '@keel/contracts';
import { Ctx, type RequestContext } from '@keel/platform';
import { CollectionsService } from '@keel/retrieval';
import { AdminGuard } from '../http/admin.guard.js';
import { CollectionNamePipe } from '../http/collection-name.pipe.js';

@ApiTags('collections')
@Controller('v1/collections')
export class CollectionsController {
  constructor(private readonly collections: CollectionsService) {}

  @Post()
  @ApiCreatedResponse({ type: CollectionDto })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiConflictResponse({ type: ErrorResponseDto, description: 'COLLECTION_EXISTS' })
  create(@Body() dto: CreateCollectionDto, @Ctx() ctx: RequestContext): Promise<CollectionDto> {
    return this.collections.create(dto, ctx);
  }

  @Get()
  @ApiOkResponse({ type: CollectionListDto })
  async list(@Ctx() ctx: RequestContext): Promise<CollectionListDto> {
    return { collections: await this.collections.list(ctx) };
  }

  @Get(':name')
  @ApiOkResponse({ type: CollectionDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'COLLECTION_NOT_FOUND' })
  get(
    @Param('name', CollectionNamePipe) name: string,
    @Ctx() ctx: RequestContext,
  ): Promise<CollectionDto> {
    return this.collections.get(name, ctx);
  }

  @Delete(':name')
  @HttpCode(204)
  @UseGuards(AdminGuard)
  @ApiBearerAuth()
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'COLLECTION_NOT_FOUND' })
  async delete(
    @Param('name', CollectionNamePipe) name: string,
    @Ctx() ctx: RequestContext,
  ): Promise<void> {
    await this.collections.delete(name, ctx);
  }
}
