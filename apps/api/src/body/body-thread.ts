// The module the API's body thread loads (piscina calls its default export per body).
import { lowerThreadPriority } from '@keel/jobs/thread';
import { decodeBody } from './body-decode.js';

// Like the pool threads: the event loop that serves queries gets a core first.
lowerThreadPriority();

export default decodeBody;
