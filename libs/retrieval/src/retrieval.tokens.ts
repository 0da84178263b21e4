/** The API thread's read connection to the embedded store (reads never wait on writers in WAL). */
export const STORE_READER = Symbol('STORE_READER');
