export { PROCESSORS, prepare } from './processors.js';
