// The Nest face of the model clients; `@keel/inference` itself stays Nest-free.
export { InferenceModule, CHAT_CLIENT } from './inference.module.js';
