export { EvaluationModule } from './evaluation.module.js';
export { EvaluationsService } from './evaluations.service.js';
export { RunEvaluation } from './run-evaluation.js';
