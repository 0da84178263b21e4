import { Module } from '@nestjs/common';
import { InferenceModule } from '@keel/inference/module';
import { RetrievalModule } from '@keel/retrieval';
import { PackService } from './pack.service.js';
import { AnswerQuery } from './query-pipeline.js';
import { RerankService } from './rerank.service.js';

/** Query-time orchestration over retrieval, reranking and packing jobs, and the LLM when there is one. */
@Module({
  imports: [RetrievalModule, InferenceModule],
  providers: [RerankService, PackService, AnswerQuery],
  exports: [RerankService, PackService, AnswerQuery],
})
export class PipelineModule {}
