import {
  Body,
  Controller,
  Delete,
  Get,
  Headers,
  HttpCode,
  Param,
  Post,
  Query,
  Res,
  UseGuards,
} from '@nestjs/common';
import {
  ApiAcceptedResponse,
  ApiBadRequestResponse,
  ApiBearerAuth,
  ApiBody,
  ApiHeader,
  ApiNoContentResponse,
  ApiNotFoundResponse,
  ApiOkResponse,
  ApiPayloadTooLargeResponse,
  ApiTags,
  ApiTooManyRequestsResponse,
} from '@nestjs/swagger';
import type { Response } from 'express';
import {
  ErrorResponseDto,
  IngestDocumentsDto,
  IngestQueryDto,
  IngestResultDto,
  JobAcceptedDto,
  KeelError,
  StoredDocumentDto,
} from '@keel/contracts';
import { Ctx, type RequestContext } from '@keel/platform';
import { DocumentsService } from '@keel/retrieval';
import { BodyDecoder } from '../body/body-decoder.js';
import { AdminGuard } from '../http/admin.guard.js';
import { CollectionNamePipe } from '../http/collection-name.pipe.js';

@ApiTags('documents')
@Controller('v1/collections/:name/documents')
export class DocumentsController {
  constructor(
    private readonly documents: DocumentsService,
    private readonly bodies: BodyDecoder,
  ) {}

  /**
   * Idempotent upsert by document id. 202 with a job id by default; with `?wait=true`, 200 with
   * the ingest result once the job is done. The body arrives as bytes (RawJsonBodyMiddleware) and
   * is parsed and validated on the body thread, with the ValidationPipe's rules.
   */
  @Post()
  @ApiBody({ type: IngestDocumentsDto })
  @ApiAcceptedResponse({ type: JobAcceptedDto })
  @ApiOkResponse({ type: IngestResultDto, description: 'with ?wait=true' })
  @ApiBadRequestResponse({ type: ErrorResponseDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'COLLECTION_NOT_FOUND' })
  @ApiPayloadTooLargeResponse({ type: ErrorResponseDto })
  @ApiTooManyRequestsResponse({ type: ErrorResponseDto, description: 'OVERLOADED' })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: "a retried request with the same key returns the first request's job",
  })
  async ingest(
    @Param('name', CollectionNamePipe) name: string,
    @Query() query: IngestQueryDto,
    @Body() body: unknown,
    @Ctx() ctx: RequestContext,
    @Res({ passthrough: true }) res: Response,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<JobAcceptedDto | IngestResultDto> {
    if (idempotencyKey !== undefined && !/^[\x21-\x7e]{1,200}$/u.test(idempotencyKey)) {
      throw new KeelError(
        'VALIDATION_FAILED',
        'Idempotency-Key must be 1-200 visible ASCII characters',
        [{ field: 'Idempotency-Key', message: 'must be 1-200 visible ASCII characters' }],
      );
    }
    const dto = await this.bodies.decode(IngestDocumentsDto, body);
    // The same key for the same collection is the same job: a retried request does not ingest twice.
    const job = await this.documents.ingest(
      name,
      dto,
      ctx,
      idempotencyKey === undefined ? undefined : `${name}\n${idempotencyKey}`,
    );
    if (query.wait !== 'true' && query.wait !== '1') {
      const location = `/v1/jobs/${job.id}`;
      res.status(202).location(location);
      return { jobId: job.id, location };
    }
    res.status(200);
    return this.documents.result(job, ctx);
  }

  @Get(':id')
  @ApiOkResponse({ type: StoredDocumentDto })
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description: 'COLLECTION_NOT_FOUND or DOCUMENT_NOT_FOUND',
  })
  get(
    @Param('name', CollectionNamePipe) name: string,
    @Param('id') id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<StoredDocumentDto> {
    return this.documents.get(name, id, ctx);
  }

  @Delete(':id')
  @HttpCode(204)
  @UseGuards(AdminGuard)
  @ApiBearerAuth()
  @ApiNoContentResponse()
  @ApiNotFoundResponse({
    type: ErrorResponseDto,
    description: 'COLLECTION_NOT_FOUND or DOCUMENT_NOT_FOUND',
  })
  async delete(
    @Param('name', CollectionNamePipe) name: string,
    @Param('id') id: string,
    @Ctx() ctx: RequestContext,
  ): Promise<void> {
    await this.documents.delete(name, id, ctx);
  }
}
