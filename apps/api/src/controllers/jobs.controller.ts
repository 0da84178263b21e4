import { Controller, Delete, Get, HttpCode, Param, ParseUUIDPipe } from '@nestjs/common';
import { ApiNoContentResponse, ApiNotFoundResponse, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ErrorResponseDto, JobDto, KeelError } from '@keel/contracts';
import { JobRunner } from '@keel/jobs';

const jobId = new ParseUUIDPipe({
  exceptionFactory: () =>
    new KeelError('VALIDATION_FAILED', 'job id must be a UUID', [
      { field: 'id', message: 'must be a UUID' },
    ]),
});

@ApiTags('jobs')
@Controller('v1/jobs')
export class JobsController {
  constructor(private readonly jobs: JobRunner) {}

  @Get(':id')
  @ApiOkResponse({ type: JobDto })
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'JOB_NOT_FOUND' })
  async get(@Param('id', jobId) id: string): Promise<JobDto> {
    const job = await this.jobs.get(id);
    if (!job) throw new KeelError('JOB_NOT_FOUND', `job '${id}' does not exist`);
    const { requestId: _requestId, ...dto } = job;
    return dto;
  }

  /** Cancels a waiting or running job; a finished one is left as it is. */
  @Delete(':id')
  @HttpCode(204)
  @ApiNoContentResponse()
  @ApiNotFoundResponse({ type: ErrorResponseDto, description: 'JOB_NOT_FOUND' })
  async cancel(@Param('id', jobId) id: string): Promise<void> {
    if (!(await this.jobs.get(id))) {
      throw new KeelError('JOB_NOT_FOUND', `job '${id}' does not exist`);
    }
    await this.jobs.cancel(id);
  }
}
